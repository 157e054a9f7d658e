/*
 * mpi_p2p.c - MPI point-to-point over whatever transport Open MPI picked
 * (the tests pick MyriXen's provider): every size class with
 * MPI_ANY_SOURCE and MPI_ANY_TAG, probes (MPI_Probe, MPI_Iprobe,
 * MPI_Mprobe, MPI_Improbe), MPI_Ssend, MPI_Cancel of a posted receive, and
 * storms of MPI_Isend/MPI_Irecv.  Every payload is checked.  Any number of
 * ranks >= 2; prints "mpi_p2p: ok BYTES" on rank 0 (bytes this rank sent).
 */
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int rank, size;
static uint64_t sent_bytes;

#define FAIL(...)                                                                  \
  do {                                                                             \
    fprintf(stderr, "mpi_p2p rank %d: ", rank);                                    \
    fprintf(stderr, __VA_ARGS__);                                                  \
    fprintf(stderr, " (%s:%d)\n", __FILE__, __LINE__);                             \
    MPI_Abort(MPI_COMM_WORLD, 1);                                                  \
  } while (0)

static void fill(unsigned char *b, size_t n, int src, int tag)
{
  for (size_t i = 0; i < n; i++)
    b[i] = (unsigned char)(i * 7 + (size_t)src * 13 + (size_t)tag);
}

static void check(const unsigned char *b, size_t n, int src, int tag)
{
  for (size_t i = 0; i < n; i++)
    if (b[i] != (unsigned char)(i * 7 + (size_t)src * 13 + (size_t)tag))
      FAIL("byte %zu of %zu from %d tag %d is wrong", i, n, src, tag);
}

static const size_t sizes[] = {0, 1, 8, 100, 128, 200, 1000, 4096, 8192, 32768,
                               32769, 65536, 262144, 1 << 20, 4 << 20};
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

/* Ring: each rank sends to rank+1 every size; receives from ANY_SOURCE
 * with ANY_TAG and checks who and what arrived. */
static void ring_any(unsigned char *sbuf, unsigned char *rbuf)
{
  int to = (rank + 1) % size, from = (rank + size - 1) % size;
  for (size_t k = 0; k < NSIZES; k++) {
    int tag = 100 + (int)k;
    MPI_Request rq;
    MPI_Status st;
    MPI_Irecv(rbuf, (int)sizes[k], MPI_BYTE, MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &rq);
    fill(sbuf, sizes[k], rank, tag);
    MPI_Send(sbuf, (int)sizes[k], MPI_BYTE, to, tag, MPI_COMM_WORLD);
    sent_bytes += sizes[k];
    MPI_Wait(&rq, &st);
    int count;
    MPI_Get_count(&st, MPI_BYTE, &count);
    if (st.MPI_SOURCE != from || st.MPI_TAG != tag || (size_t)count != sizes[k])
      FAIL("size %zu: got source %d tag %d count %d", sizes[k], st.MPI_SOURCE, st.MPI_TAG,
           count);
    check(rbuf, sizes[k], from, tag);
    MPI_Barrier(MPI_COMM_WORLD);
  }
}

/* Probes: rank 0 and 1 only. Rank 1 sends three messages; rank 0 finds
 * them with each kind of probe, then receives what it probed. */
static void probes(unsigned char *sbuf, unsigned char *rbuf)
{
  if (rank > 1)
    return;
  const size_t len[4] = {64, 20000, 3 << 20, 12};
  if (rank == 1) {
    for (int i = 0; i < 4; i++) {
      fill(sbuf, len[i], 1, 200 + i);
      MPI_Send(sbuf, (int)len[i], MPI_BYTE, 0, 200 + i, MPI_COMM_WORLD);
      sent_bytes += len[i];
    }
    return;
  }
  MPI_Status st;
  int count, flag = 0;
  /* MPI_Probe, then receive it */
  MPI_Probe(MPI_ANY_SOURCE, 200, MPI_COMM_WORLD, &st);
  MPI_Get_count(&st, MPI_BYTE, &count);
  if (st.MPI_SOURCE != 1 || (size_t)count != len[0])
    FAIL("MPI_Probe: source %d count %d", st.MPI_SOURCE, count);
  MPI_Recv(rbuf, count, MPI_BYTE, 1, 200, MPI_COMM_WORLD, &st);
  check(rbuf, len[0], 1, 200);
  /* MPI_Iprobe until it is there (tag 201, ANY_SOURCE) */
  while (!flag)
    MPI_Iprobe(MPI_ANY_SOURCE, 201, MPI_COMM_WORLD, &flag, &st);
  MPI_Get_count(&st, MPI_BYTE, &count);
  if (st.MPI_SOURCE != 1 || (size_t)count != len[1])
    FAIL("MPI_Iprobe: source %d count %d", st.MPI_SOURCE, count);
  MPI_Recv(rbuf, count, MPI_BYTE, st.MPI_SOURCE, 201, MPI_COMM_WORLD, &st);
  check(rbuf, len[1], 1, 201);
  /* MPI_Mprobe + MPI_Mrecv of a large (rendezvous) message */
  MPI_Message msg;
  MPI_Mprobe(1, 202, MPI_COMM_WORLD, &msg, &st);
  MPI_Get_count(&st, MPI_BYTE, &count);
  if ((size_t)count != len[2])
    FAIL("MPI_Mprobe: count %d", count);
  MPI_Mrecv(rbuf, count, MPI_BYTE, &msg, &st);
  check(rbuf, len[2], 1, 202);
  /* MPI_Improbe with ANY_TAG */
  flag = 0;
  while (!flag)
    MPI_Improbe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &msg, &st);
  MPI_Get_count(&st, MPI_BYTE, &count);
  if (st.MPI_TAG != 203 || (size_t)count != len[3])
    FAIL("MPI_Improbe: tag %d count %d", st.MPI_TAG, count);
  MPI_Mrecv(rbuf, count, MPI_BYTE, &msg, &st);
  check(rbuf, len[3], 1, 203);
}

/* MPI_Ssend completes only once the receive matched: rank 1 posts its
 * receive after a barrier that rank 0's Issend cannot have passed. */
static void ssend(unsigned char *sbuf, unsigned char *rbuf)
{
  for (size_t k = 0; k < NSIZES; k += 3) {
    if (rank == 0) {
      fill(sbuf, sizes[k], 0, 300);
      MPI_Request rq;
      int done = 0;
      MPI_Issend(sbuf, (int)sizes[k], MPI_BYTE, 1, 300, MPI_COMM_WORLD, &rq);
      sent_bytes += sizes[k];
      for (int i = 0; i < 1000; i++)
        MPI_Test(&rq, &done, MPI_STATUS_IGNORE);
      if (done)
        FAIL("MPI_Issend of %zu bytes completed before any receive was posted", sizes[k]);
      MPI_Barrier(MPI_COMM_WORLD);
      MPI_Wait(&rq, MPI_STATUS_IGNORE);
    } else {
      MPI_Barrier(MPI_COMM_WORLD);
      if (rank == 1) {
        MPI_Recv(rbuf, (int)sizes[k], MPI_BYTE, 0, 300, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        check(rbuf, sizes[k], 0, 300);
      }
    }
  }
}

/* MPI_Cancel of a receive nobody sends to. */
static void cancel(unsigned char *rbuf)
{
  MPI_Request rq;
  MPI_Status st;
  int cancelled = 0;
  MPI_Irecv(rbuf, 16, MPI_BYTE, MPI_ANY_SOURCE, 999, MPI_COMM_WORLD, &rq);
  MPI_Cancel(&rq);
  MPI_Wait(&rq, &st);
  MPI_Test_cancelled(&st, &cancelled);
  if (!cancelled)
    FAIL("MPI_Cancel: the receive was not cancelled");
}

/* Storm: every rank posts ROUNDS x (size-1) receives and sends at once,
 * mixed sizes, then MPI_Waitall. */
#define ROUNDS 64
static void storm(void)
{
  int peers = size - 1, n = ROUNDS * peers;
  MPI_Request *rq = malloc(sizeof(*rq) * 2 * (size_t)n);
  unsigned char **sb = malloc(sizeof(*sb) * (size_t)n), **rb = malloc(sizeof(*rb) * (size_t)n);
  size_t *len = malloc(sizeof(*len) * (size_t)n);
  if (!rq || !sb || !rb || !len)
    FAIL("out of memory");
  int k = 0;
  for (int r = 0; r < ROUNDS; r++)
    for (int p = 0; p < size; p++) {
      if (p == rank)
        continue;
      len[k] = (size_t)((r * 997) % 70000);
      rb[k] = malloc(len[k] + 1);
      MPI_Irecv(rb[k], (int)len[k], MPI_BYTE, p, 400 + r, MPI_COMM_WORLD, &rq[k]);
      k++;
    }
  k = 0;
  for (int r = 0; r < ROUNDS; r++)
    for (int p = 0; p < size; p++) {
      if (p == rank)
        continue;
      sb[k] = malloc(len[k] + 1);
      fill(sb[k], len[k], rank, 400 + r);
      MPI_Isend(sb[k], (int)len[k], MPI_BYTE, p, 400 + r, MPI_COMM_WORLD, &rq[n + k]);
      sent_bytes += len[k];
      k++;
    }
  MPI_Waitall(2 * n, rq, MPI_STATUSES_IGNORE);
  k = 0;
  for (int r = 0; r < ROUNDS; r++)
    for (int p = 0; p < size; p++) {
      if (p == rank)
        continue;
      check(rb[k], len[k], p, 400 + r);
      free(rb[k]);
      free(sb[k]);
      k++;
    }
  free(rq);
  free(sb);
  free(rb);
  free(len);
}

int main(int argc, char **argv)
{
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (size < 2)
    FAIL("needs 2 ranks or more");
  unsigned char *sbuf = malloc(4 << 20), *rbuf = malloc(4 << 20);
  if (!sbuf || !rbuf)
    FAIL("out of memory");
  int verbose = getenv("MPI_P2P_VERBOSE") != NULL;
#define PHASE(call)                                                                \
  do {                                                                             \
    if (verbose)                                                                   \
      fprintf(stderr, "rank %d: %s\n", rank, #call);                               \
    call;                                                                          \
    MPI_Barrier(MPI_COMM_WORLD);                                                   \
  } while (0)
  PHASE(ring_any(sbuf, rbuf));
  PHASE(probes(sbuf, rbuf));
  PHASE(ssend(sbuf, rbuf));
  PHASE(cancel(rbuf));
  PHASE(storm());
  unsigned long long mine = sent_bytes, all = 0;
  MPI_Reduce(&mine, &all, 1, MPI_UNSIGNED_LONG_LONG, MPI_SUM, 0, MPI_COMM_WORLD);
  if (rank == 0)
    printf("mpi_p2p: ok %llu bytes sent by %d ranks\n", all, size);
  free(sbuf);
  free(rbuf);
  MPI_Finalize();
  return 0;
}
