/* base.h - the lowest layer of libmyrixen: errors, entering an endpoint, segments, matching,
 * grants, requests, medium reassembly, the control client. */
#ifndef MYRIXEN_LIB_BASE_H
#define MYRIXEN_LIB_BASE_H

#include "../common/doorbell.h"
#include "lib.h"

/* errors.c: route a failing call through the endpoint's or global handler */
mx_return_t lib_error(struct mx_endpoint *ep, mx_return_t ret, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* errors.c: as lib_error, for features MX declares but never implemented:
 * never aborts, even under MX_ERRORS_ARE_FATAL. */
mx_return_t lib_unsupported(struct mx_endpoint *ep, const char *fn, const char *why);

/* ep.c */
int ep_valid(struct mx_endpoint *ep);
/* A closing endpoint's requests, their cache, and its connections, freed. */
void ep_free_requests(struct mx_endpoint *ep);
/* Check ep and take its lock: MX_SUCCESS, or the error handler's answer
 * (fn names the call in the message; never MX_SUCCESS then). */
mx_return_t ep_enter(struct mx_endpoint *ep, const char *fn);
/* MX_SUCCESS when mask covers the endpoint's context id bits. */
mx_return_t ep_check_ctxid(struct mx_endpoint *ep, uint64_t mask, const char *fn);
/* True in the thread running the endpoint's unexpected handler. */
int ep_in_handler(struct mx_endpoint *ep);
/* Block (lock held) while another thread's handler runs. */
void ep_handler_wait(struct mx_endpoint *ep);
/* As ep_enter, for calls that would pull the ground from under a running
 * handler (close, disconnect, disable progression): refused in the handler
 * (MX_CLOSE_IN_HANDLER), and elsewhere they wait for it to return. */
mx_return_t ep_enter_outside_handler(struct mx_endpoint *ep, const char *fn);

/* seg.c */
void seg_scatter(const struct iovec *segs, uint32_t n, uint64_t off, const void *src, uint64_t len);
void seg_gather(const struct iovec *segs, uint32_t n, uint64_t off, void *dst, uint64_t len);
/* The checks every call taking a segment list makes (fn names the call). */
mx_return_t seg_args_check(struct mx_endpoint *ep, const mx_segment_t *segs, uint32_t n,
                           const mx_request_t *out, const char *fn);

/* match.c */
int match_accepts(uint64_t incoming, uint64_t match, uint64_t mask);
struct req *match_find(struct req_list *l, uint64_t incoming, const struct conn *c);
struct req *match_find_unexp(struct req_list *l, uint64_t match, uint64_t mask,
                             const struct conn *from);

/* grant.c: grant the engine access to r's segments; the ref, or 0 when
 * the table is full.  grant_release revokes it. */
uint32_t grant_segments(struct mx_endpoint *ep, struct req *r, uint32_t flags);
void grant_release(struct mx_endpoint *ep, struct req *r);

/* req.c */
struct req *req_new(struct mx_endpoint *ep, enum req_kind kind);
void req_free(struct mx_endpoint *ep, struct req *r);
uint64_t req_cookie(const struct req *r);
struct req *req_from_cookie(struct mx_endpoint *ep, uint64_t cookie, enum req_kind kind);
void req_complete(struct mx_endpoint *ep, struct req *r, mx_status_code_t code);
/* Every send and receive in progress with peer c ends with code (its
 * incarnation is gone, or our connection to it). */
void req_fail_active(struct mx_endpoint *ep, struct conn *c, mx_status_code_t code);
/* The MX status of an engine's msg_status. */
mx_status_code_t msg_status_code(uint32_t status);
void reqlist_push(struct req_list *l, struct req *r);
void reqlist_remove(struct req_list *l, struct req *r);
int req_set_segments(struct req *r, mx_segment_t *segs, uint32_t n);
void req_cache_free(struct mx_endpoint *ep);

/* partial.c: medium messages being reassembled */
void partial_add(struct mx_endpoint *ep, struct req *r);
void partial_replace(struct mx_endpoint *ep, struct req *old, struct req *r);
void partial_remove(struct mx_endpoint *ep, struct req *r);
struct req *partial_find(struct mx_endpoint *ep, const struct conn *c, uint32_t seq);

/* vmdev.c: the platform, and a VM's ivshmem device and physical pages */
/* True in a VM (an ivshmem-plain device is present), or as
 * MYRIXEN_PLATFORM=process|vm forces. */
int vmdev_platform_vm(void);
/* The device's BAR2 mapped (its length in *len), or NULL and *why. */
void *vmdev_map(size_t *len, const char **why);
/* A VM program's beat (region guest_beat), from attach to release. */
void vmdev_beat_start(void *region);
void vmdev_beat_stop(void);
/* Ring the engine from a VM (the ivshmem Doorbell register). */
void vmdev_kick(void);
/* Ring a doorbell: an eventfd, or in a VM the engine's through the
 * device (fd -1). */
static inline void lib_kick(int fd)
{
  if (fd >= 0)
    doorbell_ring(fd);
  else if (lib.vm)
    vmdev_kick();
}
/* The locked guest-physical runs under a buffer, at most max into out:
 * how many, or -1. */
int vmdev_phys_runs(const void *addr, size_t len, int write, struct iovec *out, int max);
/* True when the backend's beat stood still for REGION_BEAT_DEAD_MS. */
int vmdev_backend_silent(void);

/* attach.c: our attachment to the backend (the socket, the hello, the
 * region) */
/* Attach: MX_SUCCESS, or an MX code and *why. */
int attach_backend(const char **why);
/* True when the backend we are attached to stopped or died. */
int attach_gone(void);
/* If it did, attach to the one there now: MX_SUCCESS, or an MX code and
 * *why (none there yet: MX_NO_DRIVER). */
int attach_again(const char **why);
/* An endpoint of attachment n closed (its old region may go). */
void attach_endpoint_closed(uint32_t attachment);
/* mx_finalize: let go of everything. */
void attach_end(void);

/* ctlclient.c */
/* Send req, wait for the reply with the same seq.  An exchange that passes
 * no descriptors goes through the region's mailbox, the others through the
 * socket.  Returns 0, an MX code from a CTL_ERROR reply, or MX_NO_DRIVER
 * when the backend is gone. */
int ctl_call(struct ctl_msg *req, struct ctl_msg *rep, int *fds, int *nfds, char **text);
/* The same, passing descriptor pass_fd with req (on the socket). */
int ctl_call_passing(struct ctl_msg *req, int pass_fd, struct ctl_msg *rep, int *fds, int *nfds,
                     char **text);
void ctl_poll_async(void);
/* The oldest CTL_CHANNEL_ATTACH the backend sent for VIF vif: 1, with the
 * message and its descriptors (the caller owns them); 0 when none waits. */
int ctl_async_take(uint32_t vif, struct ctl_msg *m, int *fds, int *nfds);

#endif
