/*
 * mpi_coll.c - collectives, results checked: MPI_Allreduce (sum of
 * doubles, several sizes), MPI_Alltoall, MPI_Bcast of 16 MiB from each
 * root in turn.  Prints "mpi_coll: ok BYTES" on rank 0 (payload bytes the
 * collectives had to move at least).
 */
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static int rank, size;

#define FAIL(...)                                                                  \
  do {                                                                             \
    fprintf(stderr, "mpi_coll rank %d: ", rank);                                   \
    fprintf(stderr, __VA_ARGS__);                                                  \
    fprintf(stderr, "\n");                                                         \
    MPI_Abort(MPI_COMM_WORLD, 1);                                                  \
  } while (0)

int main(int argc, char **argv)
{
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  unsigned long long moved = 0;

  /* Allreduce: element i of rank r is r * 1000 + i; the sum is exact. */
  static const int counts[] = {1, 7, 1000, 65536, 1 << 20};
  for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
    int n = counts[c];
    double *in = malloc(sizeof(double) * (size_t)n), *out = malloc(sizeof(double) * (size_t)n);
    for (int i = 0; i < n; i++)
      in[i] = rank * 1000.0 + i;
    MPI_Allreduce(in, out, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    double ranks = (double)size * (size - 1) / 2;
    for (int i = 0; i < n; i++)
      if (out[i] != ranks * 1000.0 + (double)size * i)
        FAIL("MPI_Allreduce of %d: element %d is %g", n, i, out[i]);
    moved += sizeof(double) * (uint64_t)n * (uint64_t)(size - 1);
    free(in);
    free(out);
  }

  /* Alltoall: block j of rank r's send buffer says (r, j). */
  static const int blocks[] = {1, 100, 50000};
  for (size_t b = 0; b < sizeof(blocks) / sizeof(blocks[0]); b++) {
    int n = blocks[b];
    int *in = malloc(sizeof(int) * (size_t)n * (size_t)size);
    int *out = malloc(sizeof(int) * (size_t)n * (size_t)size);
    for (int j = 0; j < size; j++)
      for (int i = 0; i < n; i++)
        in[j * n + i] = rank * 1000000 + j * 1000 + i % 1000;
    MPI_Alltoall(in, n, MPI_INT, out, n, MPI_INT, MPI_COMM_WORLD);
    for (int j = 0; j < size; j++)
      for (int i = 0; i < n; i++)
        if (out[j * n + i] != j * 1000000 + rank * 1000 + i % 1000)
          FAIL("MPI_Alltoall of %d: block %d element %d is %d", n, j, i, out[j * n + i]);
    moved += sizeof(int) * (uint64_t)n * (uint64_t)(size - 1);
    free(in);
    free(out);
  }

  /* Bcast of 16 MiB from each root in turn. */
  size_t len = 16 << 20;
  unsigned char *buf = malloc(len);
  for (int root = 0; root < size; root++) {
    for (size_t i = 0; i < len; i++)
      buf[i] = rank == root ? (unsigned char)(i * 31 + (size_t)root) : 0;
    MPI_Bcast(buf, (int)len, MPI_BYTE, root, MPI_COMM_WORLD);
    for (size_t i = 0; i < len; i++)
      if (buf[i] != (unsigned char)(i * 31 + (size_t)root))
        FAIL("MPI_Bcast from %d: byte %zu is %u", root, i, buf[i]);
    if (rank == root)
      moved += len;
  }
  free(buf);

  unsigned long long all = 0;
  MPI_Reduce(&moved, &all, 1, MPI_UNSIGNED_LONG_LONG, MPI_SUM, 0, MPI_COMM_WORLD);
  if (rank == 0)
    printf("mpi_coll: ok %llu bytes sent by %d ranks\n", all, size);
  MPI_Finalize();
  return 0;
}
