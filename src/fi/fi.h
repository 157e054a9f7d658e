/*
 * fi.h - internals of libmyrixen-fi.so, the `myrixen` libfabric provider.
 *
 * The provider is a thin translation of libfabric's reliable-datagram
 * (FI_EP_RDM) tagged and message interfaces onto the MX API of libmyrixen:
 * one fi endpoint is one MX endpoint, a tagged message is an MX message
 * whose match info carries the tag, and completions are MX requests reaped
 * with mx_ipeek/mx_test.  Matching, rendezvous, reliability and flow
 * control are libmyrixen's and the engine's; nothing here implements them
 * a second time.
 *
 * Objects (one file each): fabric.c (fabric, a minimal EQ), domain.c,
 * av.c, cq.c, ep.c, xfer.c (the data calls), progress.c (reaping MX
 * requests into CQs), info.c (what getinfo answers), prov.c (the entry
 * point).  Every object of a domain is guarded by the domain's lock; MX is
 * called with it held, except to sleep.
 */
#ifndef MYRIXEN_FI_H
#define MYRIXEN_FI_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include <rdma/fabric.h>
#include <rdma/fi_cm.h>
#include <rdma/fi_domain.h>
#include <rdma/fi_endpoint.h>
#include <rdma/fi_eq.h>
#include <rdma/fi_errno.h>
#include <rdma/fi_tagged.h>
#include <rdma/providers/fi_log.h>
#include <rdma/providers/fi_prov.h>

#include "../../include/myriexpress.h"

#define FXN_NAME "myrixen"
#define FXN_VERSION FI_VERSION(0, 1)
/* The oldest libfabric API we answer: fi_cq_err_entry has err_data_size
 * from 1.5 on, and Open MPI asks for 1.5. */
#define FXN_API_MIN FI_VERSION(1, 5)
#define FXN_API FI_VERSION(1, 17)

#ifndef container_of
#define container_of(p, type, member) ((type *)((char *)(p) - offsetof(type, member)))
#endif

extern struct fi_provider fxn_prov;
extern _Atomic int fxn_open_endpoints; /* prov.c: endpoints not closed yet */

/* --- match info: bit 63 tells tagged (1) from untagged (0) messages; the
 * other 63 bits carry the tag, so fi_tsend and fi_send never match each
 * other's receives. ------------------------------------------------------ */
#define FXN_TAGGED_BIT (1ull << 63)
#define FXN_TAG_MASK (FXN_TAGGED_BIT - 1)

/* An endpoint's name (fi_getname), what fi_av_insert takes. */
#define FXN_NAME_MAGIC 0x3146584du /* "MXF1" */
struct fxn_name {
  uint32_t magic;
  uint32_t eid;
  uint64_t nic;
  uint32_t key;
  uint32_t reserved;
};

/* --- operations in flight ---------------------------------------------- */

enum op_kind {
  OP_SEND = 1,   /* fi_send family: reported if cq */
  OP_INJECT,     /* buffered copy, never reported */
  OP_RECV,       /* posted receive (on the endpoint's posted list) */
  OP_CLAIM,      /* a message taken by FI_PEEK|FI_CLAIM into a bounce buffer */
  OP_DISCARD,    /* a message dropped by FI_DISCARD */
};

struct fxn_ep;
struct fxn_cq;

/* Injected messages up to this size are copied into the operation record
 * (MX's inline messages are at most 208 bytes). */
#define FXN_INLINE_COPY 256

struct op {
  enum op_kind kind;
  struct fxn_ep *ep;
  struct fxn_cq *cq;            /* where its completion (or error) goes, if anywhere */
  int wanted;                   /* a successful completion is reported too */
  void *ctx;                    /* the user's context */
  uint64_t flags;               /* FI_SEND/FI_RECV | FI_TAGGED/FI_MSG (completion flags) */
  void *buf;                    /* first buffer, for FI_CQ_FORMAT_DATA's buf */
  mx_request_t req;             /* NULL once reaped */
  mx_status_t status;           /* once reaped */
  uint8_t *bounce;              /* OP_INJECT / OP_CLAIM: owned copy (inline_copy when small) */
  uint64_t bounce_len;
  int done;                     /* OP_CLAIM: the bounce is filled */
  struct op *claimer;           /* OP_CLAIM: the receive that takes it, once posted */
  struct iovec *iov;            /* a claiming receive's buffers, kept until the claim is in */
  size_t iov_n;
  /* what the completion entry says, once known */
  int err;                      /* 0, or a positive FI_E* */
  uint64_t len, olen, tag;
  uint64_t data;                /* remote CQ data (FI_REMOTE_CQ_DATA in flags when there) */
  fi_addr_t src;
  struct op *prev, *next;       /* a CQ's queue, or the endpoint's posted/claim lists */
  uint8_t inline_copy[FXN_INLINE_COPY]; /* what an inject copies, without malloc */
};

struct op_list {
  struct op *head, *tail;
};

void oplist_push(struct op_list *l, struct op *o);
void oplist_remove(struct op_list *l, struct op *o);
struct op *oplist_pop(struct op_list *l);

/* --- objects ------------------------------------------------------------ */

struct fxn_fabric {
  struct fid_fabric fabric;
};

struct fxn_domain {
  struct fid_domain domain;
  struct fxn_fabric *fab;
  uint32_t board;
  pthread_mutex_t lock;
  int refs;                     /* objects opened on it */
  struct op *free_ops;          /* op records for reuse */
  struct fxn_ep *eps;           /* its endpoints: reading any queue progresses them all */
  pthread_cond_t woke;          /* a thread came back from sleeping in mx_peek */
  int locking;                  /* the lock is taken: FI_THREAD_SAFE, or a thread of ours
                                 * (the FD helper) runs; else the application serialises
                                 * its calls on the domain (FI_THREAD_DOMAIN) */
};

/* The domain's lock, where it is needed.  Open MPI asks for
 * FI_THREAD_DOMAIN unless MPI_THREAD_MULTIPLE: it then calls into a domain
 * from one thread at a time, and a poll of an empty queue is two lock
 * pairs cheaper (a third of its cycles were uncontended locks). */
static inline void dom_lock(struct fxn_domain *d)
{
  if (d->locking)
    pthread_mutex_lock(&d->lock);
}

static inline void dom_unlock(struct fxn_domain *d)
{
  if (d->locking)
    pthread_mutex_unlock(&d->lock);
}

struct av_entry {
  struct fxn_name name;
  mx_endpoint_addr_t addr;      /* valid in av->ep's MX endpoint */
  int resolved;
  int dead;                     /* its connect failed */
  int used;
};

struct fxn_av {
  struct fid_av av;
  struct fxn_domain *dom;
  struct fxn_ep *ep;            /* the one endpoint bound to it */
  enum fi_av_type type;
  struct av_entry *tab;
  size_t n, cap;
};

#define CQ_EPS_MAX 16

struct fxn_cq {
  struct fid_cq cq;
  struct fxn_domain *dom;
  enum fi_cq_format format;
  size_t entry_size;
  enum fi_wait_obj wait_obj;
  struct op_list done, errors;
  struct fxn_ep *eps[CQ_EPS_MAX];
  int neps;
  uint32_t empty_reads;         /* fi_cq_read found nothing this many times in a row */
  uint64_t idle_since, spin_ns; /* since when it found nothing; how long to spin */
  uint32_t signals;             /* fi_cq_signal calls not yet seen by sread */
  int efd;                      /* FI_WAIT_FD: readable while entries wait */
  int efd_set;
  pthread_t waiter;             /* FI_WAIT_FD: turns MX events into efd */
  int waiter_running, closing;
  int sleepers;                 /* threads asleep in mx_peek for this queue */
  pthread_cond_t drained;       /* the queue emptied (the FD helper waits for it) */
};

struct fxn_ep {
  struct fid_ep ep;
  struct fxn_domain *dom;
  mx_endpoint_t mx;
  struct fxn_name name;
  uint64_t caps;
  uint64_t tx_op_flags, rx_op_flags;
  struct fxn_av *av;
  struct fxn_cq *txcq, *rxcq;
  int tx_selective, rx_selective;
  int enabled;
  size_t inject_size;           /* what fi_inject and FI_INJECT take at most */
  int sleepers;                 /* threads asleep in mx_peek on it (fi_cq_sread, FD helper) */
  struct op_list active;        /* operations whose MX request is not reaped */
  struct op_list claims;        /* messages taken by FI_PEEK|FI_CLAIM, not yet received */
  struct fxn_ep *next;          /* the domain's list */
};

/* domain.c */
int fxn_domain_open(struct fid_fabric *fabric, struct fi_info *info, struct fid_domain **dom,
                    void *context);
struct op *op_new(struct fxn_domain *d, enum op_kind kind, struct fxn_ep *ep, void *ctx);
void op_free(struct fxn_domain *d, struct op *o);

/* fabric.c */
int fxn_fabric_open(struct fi_fabric_attr *attr, struct fid_fabric **fabric, void *context);
int fxn_eq_open(struct fid_fabric *fabric, struct fi_eq_attr *attr, struct fid_eq **eq,
                void *context);
int fxn_trywait(struct fid_fabric *fabric, struct fid **fids, int count);

/* av.c */
int fxn_av_open(struct fid_domain *domain, struct fi_av_attr *attr, struct fid_av **av,
                void *context);
int fxn_av_resolve(struct fxn_av *av);
const mx_endpoint_addr_t *fxn_av_addr(struct fxn_av *av, fi_addr_t a);
fi_addr_t fxn_av_source(struct fxn_av *av, mx_endpoint_addr_t source);

/* cq.c */
int fxn_cq_open(struct fid_domain *domain, struct fi_cq_attr *attr, struct fid_cq **cq,
                void *context);
void fxn_cq_push(struct fxn_cq *cq, struct op *o);
int fxn_cq_bind_ep(struct fxn_cq *cq, struct fxn_ep *ep);
void fxn_cq_unbind_ep(struct fxn_cq *cq, struct fxn_ep *ep);
int fxn_cq_ready(struct fxn_cq *cq);

/* ep.c */
int fxn_ep_open(struct fid_domain *domain, struct fi_info *info, struct fid_ep **ep,
                void *context);

/* xfer.c */
extern struct fi_ops_msg fxn_msg_ops;
extern struct fi_ops_tagged fxn_tagged_ops;

/* cq.c: sleeping on an endpoint's MX requests, at most CQ_SLEEP_SLICE_MS at
 * a time (a wakeup that comes just before the sleep is then late, not lost). */
#define CQ_SLEEP_SLICE_MS 50
void fxn_sleep_on(struct fxn_domain *d, struct fxn_ep *ep, uint32_t ms);

/* progress.c */
void fxn_progress(struct fxn_ep *ep);
void fxn_claim_deliver(struct fxn_ep *ep, struct op *claim);

/* info.c / prov.c */
int fxn_getinfo(uint32_t version, const char *node, const char *service, uint64_t flags,
                const struct fi_info *hints, struct fi_info **info);
int fxn_mx_ready(void);

/* Slots of an ops table that the provider does not offer. */
int fxn_no_bind(struct fid *fid, struct fid *bfid, uint64_t flags);
int fxn_no_control(struct fid *fid, int command, void *arg);
int fxn_no_ops_open(struct fid *fid, const char *name, uint64_t flags, void **ops,
                    void *context);
int fxn_no_tostr(const struct fid *fid, char *buf, size_t len);
int fxn_no_ops_set(struct fid *fid, const char *name, uint64_t flags, void *ops, void *context);

#endif /* MYRIXEN_FI_H */
