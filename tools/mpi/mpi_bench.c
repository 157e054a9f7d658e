/*
 * mpi_bench.c - the MPI benchmark of `myrixen bench mpi`: ping-pong
 * latency (half round trip) and streaming bandwidth as OSU's osu_bw
 * measures it (a window of MPI_Isend, then a one-byte ack), between ranks
 * 0 and 1, whatever transport Open MPI was told to use.
 *
 * Prints one line per size: "SIZE LAT_US BW_MBPS".
 * Usage: mpi_bench [-s SIZES] [-i ITERS]   (sizes comma-separated)
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WINDOW 64

static double pingpong(int rank, char *buf, int len, int iters)
{
  MPI_Barrier(MPI_COMM_WORLD);
  double t0 = 0;
  for (int i = -iters / 10 - 1; i < iters; i++) {
    if (i == 0)
      t0 = MPI_Wtime(); /* after a warm-up */
    if (rank == 0) {
      MPI_Send(buf, len, MPI_BYTE, 1, 1, MPI_COMM_WORLD);
      MPI_Recv(buf, len, MPI_BYTE, 1, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    } else {
      MPI_Recv(buf, len, MPI_BYTE, 0, 1, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      MPI_Send(buf, len, MPI_BYTE, 0, 1, MPI_COMM_WORLD);
    }
  }
  return (MPI_Wtime() - t0) * 1e6 / iters / 2;
}

static double bandwidth(int rank, char *buf, int len, int iters)
{
  MPI_Request rq[WINDOW];
  char ack;
  MPI_Barrier(MPI_COMM_WORLD);
  double t0 = 0;
  for (int i = -2; i < iters; i++) {
    if (i == 0)
      t0 = MPI_Wtime();
    if (rank == 0) {
      for (int w = 0; w < WINDOW; w++)
        MPI_Isend(buf, len, MPI_BYTE, 1, 2, MPI_COMM_WORLD, &rq[w]);
      MPI_Waitall(WINDOW, rq, MPI_STATUSES_IGNORE);
      MPI_Recv(&ack, 1, MPI_BYTE, 1, 3, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    } else {
      for (int w = 0; w < WINDOW; w++)
        MPI_Irecv(buf, len, MPI_BYTE, 0, 2, MPI_COMM_WORLD, &rq[w]);
      MPI_Waitall(WINDOW, rq, MPI_STATUSES_IGNORE);
      MPI_Send(&ack, 1, MPI_BYTE, 0, 3, MPI_COMM_WORLD);
    }
  }
  double s = MPI_Wtime() - t0;
  return (double)len * WINDOW * iters / s / 1e6;
}

int main(int argc, char **argv)
{
  MPI_Init(&argc, &argv);
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  const char *sizes = "8,1024,4096,16384,32768,65536,1048576";
  int iters = 10000, opt;
  while ((opt = getopt(argc, argv, "s:i:")) != -1) {
    if (opt == 's')
      sizes = optarg;
    else if (opt == 'i')
      iters = atoi(optarg);
  }
  if (size != 2) {
    if (rank == 0)
      fprintf(stderr, "mpi_bench: run it with 2 ranks\n");
    MPI_Finalize();
    return 2;
  }
  char *copy = strdup(sizes), *save = NULL;
  char *buf = malloc(16 << 20);
  memset(buf, 1, 16 << 20);
  for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
    int len = atoi(t);
    /* fewer iterations for large messages: about the same time per size */
    int n = iters, bn;
    if (len > 4096)
      n = iters / 4;
    if (len > 65536)
      n = iters / 20;
    bn = n / WINDOW > 10 ? n / WINDOW : 10;
    if (n < 20)
      n = 20;
    double lat = pingpong(rank, buf, len, n);
    double bw = bandwidth(rank, buf, len, bn);
    if (rank == 0)
      printf("%d %.3f %.1f\n", len, lat, bw);
    fflush(stdout);
  }
  free(buf);
  free(copy);
  MPI_Finalize();
  return 0;
}
