/*
 * test_fabric.c - the `myrixen` libfabric provider through libfabric's
 * public API, as an application sees it: what fi_getinfo offers and
 * refuses, names and address vectors, tagged and untagged messages of
 * every class with payloads checked, FI_SOURCE, truncation, inject,
 * directed receives, FI_PEEK / FI_CLAIM / FI_DISCARD, fi_cancel, selective
 * completion, synchronous sends, fi_cq_sread, fi_cq_signal and the
 * FI_WAIT_FD descriptor with fi_trywait.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rdma/fabric.h>
#include <rdma/fi_cm.h>
#include <rdma/fi_domain.h>
#include <rdma/fi_endpoint.h>
#include <rdma/fi_errno.h>
#include <rdma/fi_tagged.h>

#include "../harness.h"

#define CHECK_FI(call)                                                                  \
  do {                                                                                  \
    ssize_t rc_ = (call);                                                               \
    if (rc_ < 0) {                                                                      \
      fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, fi_strerror((int)-rc_)); \
      exit(1); /* as CHECK: the test runs in a guest process of its own */              \
    }                                                                                   \
  } while (0)

#define NEP 3

struct node {
  struct fid_ep *ep;
  struct fid_cq *cq;
  struct fid_av *av;
  fi_addr_t peer[NEP];          /* fi_addr of each node in this node's vector */
};

struct world {
  struct fi_info *info;
  struct fid_fabric *fabric;
  struct fid_domain *domain;
  struct node n[NEP];
};

static struct fi_info *hints(void)
{
  struct fi_info *h = fi_allocinfo();
  h->ep_attr->type = FI_EP_RDM;
  h->caps = FI_TAGGED | FI_MSG | FI_DIRECTED_RECV | FI_SOURCE | FI_LOCAL_COMM | FI_REMOTE_COMM;
  h->mode = FI_CONTEXT;
  h->domain_attr->threading = FI_THREAD_SAFE;
  h->domain_attr->resource_mgmt = FI_RM_ENABLED;
  h->domain_attr->mr_mode = 0;
  h->tx_attr->msg_order = FI_ORDER_SAS;
  h->rx_attr->msg_order = FI_ORDER_SAS;
  h->tx_attr->op_flags = FI_COMPLETION;
  h->rx_attr->op_flags = FI_COMPLETION;
  h->domain_attr->cq_data_size = 4;
  h->fabric_attr->prov_name = strdup("myrixen");
  return h;
}

/* Three endpoints, each with its tagged-format CQ (node 0's waits on an
 * fd) and its vector holding all three names. */
static int world_open(struct world *w, uint64_t bind_flags)
{
  struct fi_info *h = hints();
  CHECK_FI(fi_getinfo(FI_VERSION(1, 17), NULL, NULL, 0, h, &w->info));
  fi_freeinfo(h);
  CHECK(!strcmp(w->info->fabric_attr->prov_name, "myrixen"));
  CHECK_FI(fi_fabric(w->info->fabric_attr, &w->fabric, NULL));
  CHECK_FI(fi_domain(w->fabric, w->info, &w->domain, NULL));
  char names[NEP][64];
  for (int i = 0; i < NEP; i++) {
    struct node *n = &w->n[i];
    struct fi_cq_attr ca = {.format = FI_CQ_FORMAT_TAGGED,
                            .wait_obj = i == 0 ? FI_WAIT_FD : FI_WAIT_UNSPEC};
    struct fi_av_attr aa = {.type = FI_AV_MAP};
    CHECK_FI(fi_endpoint(w->domain, w->info, &n->ep, NULL));
    CHECK_FI(fi_cq_open(w->domain, &ca, &n->cq, NULL));
    CHECK_FI(fi_av_open(w->domain, &aa, &n->av, NULL));
    CHECK_FI(fi_ep_bind(n->ep, &n->av->fid, 0));
    CHECK_FI(fi_ep_bind(n->ep, &n->cq->fid, FI_TRANSMIT | FI_RECV | bind_flags));
    CHECK_FI(fi_enable(n->ep));
    size_t len = 0;
    CHECK(fi_getname(&n->ep->fid, NULL, &len) == -FI_ETOOSMALL && len > 0 && len <= 64);
    CHECK_FI(fi_getname(&n->ep->fid, names[i], &len));
  }
  for (int i = 0; i < NEP; i++)
    for (int j = 0; j < NEP; j++)
      CHECK(fi_av_insert(w->n[i].av, names[j], 1, &w->n[i].peer[j], 0, NULL) == 1);
  return 0;
}

static void world_close(struct world *w)
{
  for (int i = 0; i < NEP; i++) {
    fi_close(&w->n[i].ep->fid);
    fi_close(&w->n[i].cq->fid);
    fi_close(&w->n[i].av->fid);
  }
  fi_close(&w->domain->fid);
  fi_close(&w->fabric->fid);
  fi_freeinfo(w->info);
}

/* One completion of cq (spinning, bounded): 1, or -err for an error entry
 * (filled into *err). */
static int wait_one(struct fid_cq *cq, struct fi_cq_tagged_entry *e, fi_addr_t *src,
                    struct fi_cq_err_entry *err)
{
  for (long i = 0; i < 200000000L; i++) {
    ssize_t n = fi_cq_readfrom(cq, e, 1, src);
    if (n == 1)
      return 1;
    if (n == -FI_EAVAIL) {
      struct fi_cq_err_entry tmp;
      if (!err)
        err = &tmp;
      memset(err, 0, sizeof(*err));
      if (fi_cq_readerr(cq, err, 0) == 1)
        return -err->err;
    }
  }
  fprintf(stderr, "no completion\n");
  return 0;
}

static int nothing_in(struct fid_cq *cq)
{
  struct fi_cq_tagged_entry e;
  for (int i = 0; i < 2000; i++)
    if (fi_cq_read(cq, &e, 1) != -FI_EAGAIN)
      return 0;
  return 1;
}

/* fn in a guest of its own, against a backend of its own. */
static int alone(int (*fn)(int, void *))
{
  pid_t be = harness_backend_start();
  int rc = harness_wait(harness_guest(fn, 0, NULL));
  harness_backend_stop(be);
  return rc;
}

static int getinfo_guest(int idx, void *arg)
{
  (void)idx, (void)arg;
  struct fi_info *h = hints(), *fi = NULL;
  CHECK_FI(fi_getinfo(FI_VERSION(1, 17), NULL, NULL, 0, h, &fi));
  CHECK(fi->ep_attr->type == FI_EP_RDM);
  CHECK((fi->caps & (FI_TAGGED | FI_MSG | FI_DIRECTED_RECV | FI_SOURCE)) ==
        (FI_TAGGED | FI_MSG | FI_DIRECTED_RECV | FI_SOURCE));
  CHECK(fi->domain_attr->threading == FI_THREAD_SAFE);
  CHECK(fi->domain_attr->data_progress == FI_PROGRESS_AUTO);
  CHECK(fi->tx_attr->inject_size > 0 && fi->ep_attr->mem_tag_format == 0x7fffffffffffffffull);
  CHECK(fi->domain_attr->cq_data_size == 4);
  fi_freeinfo(fi);
  /* asked for no operation flags, an endpoint's default is FI_COMPLETION
   * (not every flag it could honour: sends would all be synchronous) */
  h->tx_attr->op_flags = h->rx_attr->op_flags = 0;
  CHECK_FI(fi_getinfo(FI_VERSION(1, 17), NULL, NULL, 0, h, &fi));
  CHECK(fi->tx_attr->op_flags == FI_COMPLETION && fi->rx_attr->op_flags == FI_COMPLETION);
  fi_freeinfo(fi);
  h->tx_attr->op_flags = h->rx_attr->op_flags = FI_COMPLETION;
  /* what it is not: connected endpoints, RMA, an old API, a named other */
  h->ep_attr->type = FI_EP_MSG;
  CHECK(fi_getinfo(FI_VERSION(1, 17), NULL, NULL, 0, h, &fi) == -FI_ENODATA);
  h->ep_attr->type = FI_EP_RDM;
  h->caps |= FI_RMA;
  CHECK(fi_getinfo(FI_VERSION(1, 17), NULL, NULL, 0, h, &fi) == -FI_ENODATA);
  h->caps &= ~FI_RMA;
  CHECK(fi_getinfo(FI_VERSION(1, 4), NULL, NULL, 0, h, &fi) == -FI_ENODATA);
  h->ep_attr->mem_tag_format = ~0ull; /* the top bit is the provider's */
  CHECK(fi_getinfo(FI_VERSION(1, 17), NULL, NULL, 0, h, &fi) == -FI_ENODATA);
  fi_freeinfo(h);
  return 0;
}

static int test_getinfo_offers_and_refuses(void)
{
  return alone(getinfo_guest);
}

static const size_t sizes[] = {0, 1, 100, 2000, 40000, 300000, 4 << 20};

static int messages_guest(int idx, void *arg)
{
  (void)idx, (void)arg;
  struct world w;
  if (world_open(&w, 0))
    return 1;
  struct node *a = &w.n[0], *b = &w.n[1];
  uint8_t *buf = malloc(4 << 20), *out = malloc(4 << 20);
  struct fi_cq_tagged_entry e;
  fi_addr_t src;
  int ctx[4];
  for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
    /* tagged, the receive ignoring the low 8 bits of the tag */
    memset(buf, 0, sizes[k]);
    CHECK_FI(fi_trecv(b->ep, buf, sizes[k], NULL, FI_ADDR_UNSPEC, 0x1200, 0xff, &ctx[0]));
    harness_fill(out, sizes[k], k);
    CHECK_FI(fi_tsend(a->ep, out, sizes[k], NULL, a->peer[1], 0x1234, &ctx[1]));
    CHECK(wait_one(b->cq, &e, &src, NULL) == 1);
    CHECK(e.op_context == &ctx[0] && e.len == sizes[k] && e.tag == 0x1234);
    CHECK(e.flags == (FI_RECV | FI_TAGGED) && e.buf == buf);
    CHECK(src == b->peer[0]); /* FI_SOURCE: the sender's index in b's vector */
    CHECK(harness_verify(buf, sizes[k], k));
    CHECK(wait_one(a->cq, &e, NULL, NULL) == 1);
    /* the same with 4 bytes of remote CQ data */
    memset(buf, 0, sizes[k]);
    CHECK_FI(fi_trecv(b->ep, buf, sizes[k], NULL, FI_ADDR_UNSPEC, 0x1200, 0xff, &ctx[0]));
    CHECK_FI(fi_tsenddata(a->ep, out, sizes[k], NULL, 0xfeed0000u + k, a->peer[1], 0x1234,
                          &ctx[1]));
    CHECK(wait_one(b->cq, &e, &src, NULL) == 1);
    CHECK(e.len == sizes[k] && e.flags == (FI_RECV | FI_TAGGED | FI_REMOTE_CQ_DATA));
    CHECK(e.data == 0xfeed0000u + k && harness_verify(buf, sizes[k], k));
    CHECK(wait_one(a->cq, &e, NULL, NULL) == 1);
    CHECK(e.op_context == &ctx[1] && (e.flags & FI_SEND));
    /* untagged: a tagged receive does not take it */
    CHECK_FI(fi_trecv(b->ep, buf, sizes[k], NULL, FI_ADDR_UNSPEC, 0, ~0ull, &ctx[2]));
    CHECK_FI(fi_recv(b->ep, buf, sizes[k], NULL, FI_ADDR_UNSPEC, &ctx[0]));
    CHECK_FI(fi_send(a->ep, out, sizes[k], NULL, a->peer[1], &ctx[1]));
    CHECK(wait_one(b->cq, &e, NULL, NULL) == 1);
    CHECK(e.op_context == &ctx[0] && e.flags == (FI_RECV | FI_MSG) && e.len == sizes[k]);
    CHECK(wait_one(a->cq, &e, NULL, NULL) == 1);
    CHECK(fi_cancel(&b->ep->fid, &ctx[2]) == 0);
    struct fi_cq_err_entry err;
    CHECK(wait_one(b->cq, &e, NULL, &err) == -FI_ECANCELED && err.op_context == &ctx[2]);
  }
  /* truncation: 300000 bytes into 1000 */
  CHECK_FI(fi_trecv(b->ep, buf, 1000, NULL, FI_ADDR_UNSPEC, 7, 0, &ctx[0]));
  harness_fill(out, 300000, 9);
  CHECK_FI(fi_tsend(a->ep, out, 300000, NULL, a->peer[1], 7, &ctx[1]));
  struct fi_cq_err_entry err;
  CHECK(wait_one(b->cq, &e, NULL, &err) == -FI_ETRUNC);
  CHECK(err.op_context == &ctx[0] && err.len == 1000 && err.olen == 299000 && err.tag == 7);
  CHECK(harness_verify(buf, 1000, 9));
  CHECK(wait_one(a->cq, &e, NULL, NULL) == 1);
  /* inject: the buffer is free at once, and no completion comes */
  harness_fill(out, 64, 11);
  CHECK_FI(fi_tinject(a->ep, out, 64, a->peer[1], 8));
  memset(out, 0, 64);
  CHECK_FI(fi_trecv(b->ep, buf, 64, NULL, FI_ADDR_UNSPEC, 8, 0, &ctx[0]));
  CHECK(wait_one(b->cq, &e, NULL, NULL) == 1 && e.len == 64 && harness_verify(buf, 64, 11));
  CHECK(!(e.flags & FI_REMOTE_CQ_DATA));
  harness_fill(out, 64, 12);
  CHECK_FI(fi_tinjectdata(a->ep, out, 64, 42, a->peer[1], 8));
  CHECK_FI(fi_trecv(b->ep, buf, 64, NULL, FI_ADDR_UNSPEC, 8, 0, &ctx[0]));
  CHECK(wait_one(b->cq, &e, NULL, NULL) == 1 && e.len == 64 && harness_verify(buf, 64, 12));
  CHECK((e.flags & FI_REMOTE_CQ_DATA) && e.data == 42);
  CHECK(nothing_in(a->cq));
  /* An inject storm past the direct channel's room: what cannot go
   * straight into the channel waits behind (the ordinary path), later
   * injects do not overtake it, and every message arrives once, in order. */
  enum { STORM = 3000 };
  for (uint32_t i = 0; i < STORM; i++) {
    ssize_t rc;
    while ((rc = fi_tinject(a->ep, &i, sizeof(i), a->peer[1], 9)) == -FI_EAGAIN) {
      CHECK(fi_cq_read(b->cq, &e, 1) == -FI_EAGAIN); /* b takes them in as unexpected */
      CHECK(fi_cq_read(a->cq, &e, 1) == -FI_EAGAIN);
    }
    CHECK_FI(rc);
  }
  for (uint32_t i = 0; i < STORM; i++) {
    uint32_t got = ~0u;
    CHECK_FI(fi_trecv(b->ep, &got, sizeof(got), NULL, FI_ADDR_UNSPEC, 9, 0, &ctx[0]));
    CHECK(wait_one(b->cq, &e, NULL, NULL) == 1 && e.len == sizeof(got) && got == i);
  }
  CHECK(nothing_in(a->cq) && nothing_in(b->cq));
  /* inject takes what fits inline, and no more */
  CHECK(fi_tinject(a->ep, out, w.info->tx_attr->inject_size + 1, a->peer[1], 8) == -FI_EINVAL);
  /* more than 4 bytes of data: refused */
  CHECK(fi_tinjectdata(a->ep, out, 8, 1ull << 32, a->peer[1], 8) == -FI_EINVAL);
  free(buf);
  free(out);
  world_close(&w);
  return 0;
}

static int test_messages_every_class(void)
{
  return alone(messages_guest);
}

/* Directed receives, FI_PEEK, FI_CLAIM and FI_DISCARD. */
static int matching_guest(int idx, void *arg)
{
  (void)idx, (void)arg;
  struct world w;
  if (world_open(&w, 0))
    return 1;
  struct node *a = &w.n[0], *b = &w.n[1], *c = &w.n[2];
  uint8_t buf[100000], out[100000];
  struct fi_cq_tagged_entry e;
  struct fi_cq_err_entry err;
  fi_addr_t src;
  int ctx[4];
  /* b and c both send tag 5 to a; a receives from c first */
  harness_fill(out, 100, 1);
  CHECK_FI(fi_tsend(b->ep, out, 100, NULL, b->peer[0], 5, &ctx[0]));
  CHECK(wait_one(b->cq, &e, NULL, NULL) == 1);
  struct fi_msg_tagged peekmsg = {.addr = FI_ADDR_UNSPEC, .tag = 5, .context = &ctx[3]};
  do { /* FI_PEEK until b's message is there */
    CHECK_FI(fi_trecvmsg(a->ep, &peekmsg, FI_PEEK));
  } while (wait_one(a->cq, &e, &src, &err) != 1);
  CHECK(e.op_context == &ctx[3] && e.len == 100 && e.tag == 5 && src == a->peer[1]);
  harness_fill(out, 100, 2);
  CHECK_FI(fi_tsend(c->ep, out, 100, NULL, c->peer[0], 5, &ctx[0]));
  CHECK(wait_one(c->cq, &e, NULL, NULL) == 1);
  CHECK_FI(fi_trecv(a->ep, buf, 100, NULL, a->peer[2], 5, 0, &ctx[1]));
  CHECK(wait_one(a->cq, &e, &src, NULL) == 1);
  CHECK(src == a->peer[2] && harness_verify(buf, 100, 2)); /* c's, though b's came first */
  CHECK_FI(fi_trecv(a->ep, buf, 100, NULL, FI_ADDR_UNSPEC, 5, 0, &ctx[1]));
  CHECK(wait_one(a->cq, &e, &src, NULL) == 1 && src == a->peer[1] && harness_verify(buf, 100, 1));
  /* a peek that finds nothing */
  peekmsg.tag = 6;
  CHECK_FI(fi_trecvmsg(a->ep, &peekmsg, FI_PEEK));
  CHECK(wait_one(a->cq, &e, NULL, &err) == -FI_ENOMSG && err.op_context == &ctx[3]);
  /* FI_PEEK|FI_CLAIM of a large message, then FI_CLAIM receives it; its
   * remote CQ data is known to the peek already */
  harness_fill(out, sizeof(out), 3);
  CHECK_FI(fi_tsenddata(b->ep, out, sizeof(out), NULL, 1234, b->peer[0], 6, &ctx[0]));
  do
    CHECK_FI(fi_trecvmsg(a->ep, &peekmsg, FI_PEEK | FI_CLAIM));
  while (wait_one(a->cq, &e, NULL, &err) != 1);
  CHECK(e.len == sizeof(out) && e.tag == 6 && e.data == 1234 && (e.flags & FI_REMOTE_CQ_DATA));
  /* a second receive of tag 6 must not get it: it is claimed */
  uint8_t small[10];
  harness_fill(small, 10, 4); /* (out is b's, until its send completes) */
  CHECK_FI(fi_tsend(c->ep, small, 10, NULL, c->peer[0], 6, &ctx[0]));
  CHECK_FI(fi_trecv(a->ep, buf, sizeof(buf), NULL, FI_ADDR_UNSPEC, 6, 0, &ctx[1]));
  CHECK(wait_one(a->cq, &e, NULL, NULL) == 1 && e.op_context == &ctx[1] && e.len == 10);
  CHECK(harness_verify(buf, 10, 4));
  struct iovec iov = {buf, sizeof(buf)};
  struct fi_msg_tagged claim = {.msg_iov = &iov, .iov_count = 1, .tag = 6, .context = &ctx[3]};
  memset(buf, 0, sizeof(buf));
  CHECK_FI(fi_trecvmsg(a->ep, &claim, FI_CLAIM));
  CHECK(wait_one(a->cq, &e, NULL, NULL) == 1 && e.op_context == &ctx[3] && e.len == sizeof(out));
  CHECK(e.data == 1234);
  CHECK(harness_verify(buf, sizeof(out), 3));
  CHECK(wait_one(b->cq, &e, NULL, NULL) == 1 && wait_one(c->cq, &e, NULL, NULL) == 1);
  /* FI_PEEK|FI_CLAIM, then FI_CLAIM|FI_DISCARD: gone, and no error */
  CHECK_FI(fi_tsend(b->ep, out, 70, NULL, b->peer[0], 10, &ctx[0]));
  CHECK(wait_one(b->cq, &e, NULL, NULL) == 1);
  peekmsg.tag = 10;
  do
    CHECK_FI(fi_trecvmsg(a->ep, &peekmsg, FI_PEEK | FI_CLAIM));
  while (wait_one(a->cq, &e, NULL, &err) != 1);
  claim.tag = 10;
  CHECK_FI(fi_trecvmsg(a->ep, &claim, FI_CLAIM | FI_DISCARD));
  CHECK(wait_one(a->cq, &e, NULL, &err) == 1 && e.op_context == &ctx[3] && e.len == 0);
  CHECK_FI(fi_trecvmsg(a->ep, &peekmsg, FI_PEEK));
  CHECK(wait_one(a->cq, &e, NULL, &err) == -FI_ENOMSG);
  /* FI_PEEK|FI_DISCARD drops the message */
  CHECK_FI(fi_tsend(b->ep, out, 50, NULL, b->peer[0], 9, &ctx[0]));
  peekmsg.tag = 9;
  do
    CHECK_FI(fi_trecvmsg(a->ep, &peekmsg, FI_PEEK | FI_DISCARD));
  while (wait_one(a->cq, &e, NULL, &err) != 1);
  CHECK_FI(fi_trecvmsg(a->ep, &peekmsg, FI_PEEK));
  CHECK(wait_one(a->cq, &e, NULL, &err) == -FI_ENOMSG);
  world_close(&w);
  return 0;
}

static int test_directed_peek_claim_discard(void)
{
  return alone(matching_guest);
}

static uint64_t ms_now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Selective completion, synchronous sends, sread, signal, wait fd. */
static int completion_guest(int idx, void *arg)
{
  (void)idx, (void)arg;
  struct world w;
  if (world_open(&w, FI_SELECTIVE_COMPLETION))
    return 1;
  struct node *a = &w.n[0], *b = &w.n[1];
  uint8_t buf[64], out[64] = {1};
  struct fi_cq_tagged_entry e;
  int ctx[4];
  /* the info's op_flags carry FI_COMPLETION: reported */
  CHECK_FI(fi_tsend(b->ep, out, 8, NULL, b->peer[0], 1, &ctx[0]));
  CHECK(wait_one(b->cq, &e, NULL, NULL) == 1 && e.op_context == &ctx[0]);
  /* fi_tsendmsg without FI_COMPLETION: not reported */
  struct iovec iov = {out, 8};
  struct fi_msg_tagged m = {.msg_iov = &iov, .iov_count = 1, .addr = b->peer[0], .tag = 2,
                            .context = &ctx[1]};
  CHECK_FI(fi_tsendmsg(b->ep, &m, 0));
  CHECK(nothing_in(b->cq));
  /* a synchronous send completes only once a receive matched it */
  m.tag = 3;
  CHECK_FI(fi_tsendmsg(b->ep, &m, FI_COMPLETION | FI_DELIVERY_COMPLETE));
  CHECK(nothing_in(b->cq));
  /* sread: a's fd-waited CQ; the two unmatched messages are there */
  for (int t = 1; t <= 3; t++) {
    CHECK_FI(fi_trecv(a->ep, buf, sizeof(buf), NULL, FI_ADDR_UNSPEC, (uint64_t)t, 0, &ctx[2]));
    CHECK(fi_cq_sread(a->cq, &e, 1, NULL, 5000) == 1 && e.tag == (uint64_t)t);
  }
  CHECK(wait_one(b->cq, &e, NULL, NULL) == 1 && e.op_context == &ctx[1]);
  /* sread times out, and fi_cq_signal wakes it */
  uint64_t t0 = ms_now();
  CHECK(fi_cq_sread(a->cq, &e, 1, NULL, 200) == -FI_EAGAIN);
  CHECK(ms_now() - t0 >= 190);
  CHECK_FI(fi_cq_signal(a->cq));
  t0 = ms_now();
  CHECK(fi_cq_sread(a->cq, &e, 1, NULL, 5000) == -FI_EAGAIN);
  CHECK(ms_now() - t0 < 4000);
  /* the wait fd: quiet while the queue is empty, readable once it is not */
  int fd = -1;
  CHECK_FI(fi_control(&a->cq->fid, FI_GETWAIT, &fd));
  CHECK(fd >= 0);
  struct fid *fids[1] = {&a->cq->fid};
  CHECK(fi_trywait(w.fabric, fids, 1) == 0);
  struct pollfd p = {.fd = fd, .events = POLLIN};
  CHECK(poll(&p, 1, 100) == 0);
  CHECK_FI(fi_trecv(a->ep, buf, sizeof(buf), NULL, FI_ADDR_UNSPEC, 4, 0, &ctx[2]));
  CHECK_FI(fi_tinject(b->ep, out, 8, b->peer[0], 4));
  CHECK(poll(&p, 1, 10000) == 1);
  CHECK(fi_trywait(w.fabric, fids, 1) == -FI_EAGAIN);
  CHECK(fi_cq_read(a->cq, &e, 1) == 1 && e.tag == 4);
  CHECK(fi_trywait(w.fabric, fids, 1) == 0);
  world_close(&w);
  return 0;
}

static int test_completion_control_and_waiting(void)
{
  return alone(completion_guest);
}

/* No backend: getinfo declines, the program goes on. */
static int nobackend_guest(int idx, void *arg)
{
  (void)idx, (void)arg;
  setenv("MYRIXEN_SOCKET", "/tmp/myrixen-nobody-here.sock", 1);
  struct fi_info *h = hints(), *fi = NULL;
  CHECK(fi_getinfo(FI_VERSION(1, 17), NULL, NULL, 0, h, &fi) == -FI_ENODATA);
  fi_freeinfo(h);
  return 0;
}

static int test_no_backend_declines(void)
{
  return harness_wait(harness_guest(nobackend_guest, 0, NULL));
}

int main(int argc, char **argv)
{
  /* The provider of this build, beside the test: build/lib/libfabric. */
  char path[4096];
  ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 32);
  if (n <= 0)
    return 1;
  path[n] = 0;
  strcpy(strrchr(path, '/'), "/../lib/libfabric");
  setenv("FI_PROVIDER_PATH", path, 1);
  setenv("FI_PROVIDER", "myrixen", 1);
  static const struct harness_test tests[] = {
    {"getinfo_offers_and_refuses", test_getinfo_offers_and_refuses},
    {"messages_every_class", test_messages_every_class},
    {"directed_peek_claim_discard", test_directed_peek_claim_discard},
    {"completion_control_and_waiting", test_completion_control_and_waiting},
    {"no_backend_declines", test_no_backend_declines},
    {NULL, NULL},
  };
  return harness_main(argc, argv, tests);
}
