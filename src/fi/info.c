/*
 * info.c - what the provider offers (one fi_info per MX board) and how a
 * caller's hints are checked against it, with the semantics of
 * libfabric's own util providers: a hint asks for at most what is offered,
 * and a zero hint asks for nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fi.h"

#define PRIMARY_CAPS (FI_MSG | FI_TAGGED | FI_SEND | FI_RECV | FI_DIRECTED_RECV)
#define SECONDARY_CAPS (FI_LOCAL_COMM | FI_REMOTE_COMM | FI_SOURCE)
#define TX_CAPS (FI_MSG | FI_TAGGED | FI_SEND)
#define RX_CAPS (FI_MSG | FI_TAGGED | FI_RECV | FI_DIRECTED_RECV | FI_SOURCE)
#define TX_OP_FLAGS \
  (FI_COMPLETION | FI_INJECT | FI_INJECT_COMPLETE | FI_TRANSMIT_COMPLETE | FI_DELIVERY_COMPLETE)
#define RX_OP_FLAGS (FI_COMPLETION)
#define QUEUE_SIZE 1024
/* MX lengths are 32-bit. */
#define MSG_SIZE_MAX 0x7fffffffu

struct board {
  uint32_t pio_max;             /* inline messages: what fi_inject takes */
  uint32_t endpoints;
};

static int board_facts(struct board *b)
{
  if (mx_get_info(NULL, MX_PIO_SEND_MAX, NULL, 0, &b->pio_max, sizeof(b->pio_max)) !=
          MX_SUCCESS ||
      mx_get_info(NULL, MX_MAX_NATIVE_ENDPOINTS, NULL, 0, &b->endpoints,
                  sizeof(b->endpoints)) != MX_SUCCESS)
    return -1;
  return 0;
}

static struct fi_info *offer(uint32_t board_nr, const struct board *b)
{
  struct fi_info *fi = fi_allocinfo();
  if (!fi)
    return NULL;
  char name[32];
  snprintf(name, sizeof(name), FXN_NAME "%u", board_nr);
  fi->caps = PRIMARY_CAPS | SECONDARY_CAPS;
  fi->mode = 0;
  fi->addr_format = FI_FORMAT_UNSPEC;

  fi->ep_attr->type = FI_EP_RDM;
  fi->ep_attr->protocol = FI_PROTO_UNSPEC;
  fi->ep_attr->protocol_version = 1;
  fi->ep_attr->max_msg_size = MSG_SIZE_MAX;
  fi->ep_attr->mem_tag_format = FXN_TAG_MASK;
  fi->ep_attr->tx_ctx_cnt = 1;
  fi->ep_attr->rx_ctx_cnt = 1;

  struct fi_domain_attr *d = fi->domain_attr;
  d->name = strdup(name);
  d->caps = SECONDARY_CAPS & ~FI_SOURCE;
  d->threading = FI_THREAD_SAFE;
  d->control_progress = FI_PROGRESS_AUTO;
  d->data_progress = FI_PROGRESS_AUTO;
  d->resource_mgmt = FI_RM_ENABLED;
  d->av_type = FI_AV_UNSPEC;
  d->mr_mode = 0;
  d->mr_iov_limit = 1;
  d->cq_data_size = 4; /* an MX immediate (mx_isend_imm) */
  d->cq_cnt = 64;
  d->ep_cnt = b->endpoints;
  d->tx_ctx_cnt = b->endpoints;
  d->rx_ctx_cnt = b->endpoints;
  d->max_ep_tx_ctx = 1;
  d->max_ep_rx_ctx = 1;

  fi->tx_attr->caps = TX_CAPS;
  fi->tx_attr->op_flags = TX_OP_FLAGS;
  fi->tx_attr->msg_order = FI_ORDER_SAS;
  fi->tx_attr->comp_order = FI_ORDER_NONE;
  fi->tx_attr->inject_size = b->pio_max;
  fi->tx_attr->size = QUEUE_SIZE;
  fi->tx_attr->iov_limit = MX_MAX_SEGMENTS;

  fi->rx_attr->caps = RX_CAPS;
  fi->rx_attr->op_flags = RX_OP_FLAGS;
  fi->rx_attr->msg_order = FI_ORDER_SAS;
  fi->rx_attr->comp_order = FI_ORDER_NONE;
  fi->rx_attr->total_buffered_recv = 0;
  fi->rx_attr->size = QUEUE_SIZE;
  fi->rx_attr->iov_limit = MX_MAX_SEGMENTS;

  fi->fabric_attr->name = strdup(FXN_NAME);
  fi->fabric_attr->prov_version = FXN_VERSION;
  if (!d->name || !fi->fabric_attr->name) {
    fi_freeinfo(fi);
    return NULL;
  }
  return fi;
}

/* --- hints ------------------------------------------------------------- */

static int mismatch(const char *what)
{
  FI_INFO(&fxn_prov, FI_LOG_CORE, "hints: %s not offered\n", what);
  return 0;
}
#define MISMATCH(what) mismatch(what)

static int subset(uint64_t want, uint64_t have)
{
  return (want & ~have) == 0;
}

static int within(uint64_t want, uint64_t have)
{
  return want <= have;
}

/* The highest tag a tag format names (its bits, as a number). */
static int tags_fit(uint64_t want_format, uint64_t have_format)
{
  return want_format <= have_format;
}

static int tx_ok(const struct fi_tx_attr *w, const struct fi_tx_attr *h)
{
  if (!subset(w->caps, h->caps | PRIMARY_CAPS | SECONDARY_CAPS))
    return MISMATCH("tx caps");
  if (!subset(w->op_flags, h->op_flags))
    return MISMATCH("tx op_flags");
  if (!subset(w->msg_order, h->msg_order))
    return MISMATCH("tx msg_order");
  if (!subset(w->comp_order, h->comp_order))
    return MISMATCH("tx comp_order");
  if (!within(w->inject_size, h->inject_size))
    return MISMATCH("tx inject_size");
  if (!within(w->size, h->size) || !within(w->iov_limit, h->iov_limit))
    return MISMATCH("tx size or iov_limit");
  return 1;
}

static int rx_ok(const struct fi_rx_attr *w, const struct fi_rx_attr *h)
{
  if (!subset(w->caps, h->caps | PRIMARY_CAPS | SECONDARY_CAPS))
    return MISMATCH("rx caps");
  if (!subset(w->op_flags, h->op_flags))
    return MISMATCH("rx op_flags");
  if (!subset(w->msg_order, h->msg_order))
    return MISMATCH("rx msg_order");
  if (!subset(w->comp_order, h->comp_order))
    return MISMATCH("rx comp_order");
  if (!within(w->size, h->size) || !within(w->iov_limit, h->iov_limit))
    return MISMATCH("rx size or iov_limit");
  return 1;
}

static int domain_ok(const struct fi_domain_attr *w, const struct fi_domain_attr *h)
{
  if (w->name && strcmp(w->name, h->name))
    return MISMATCH("domain name");
  /* Threading, progress and resource management: we give the strongest of
   * each (FI_THREAD_SAFE, FI_PROGRESS_AUTO, FI_RM_ENABLED), which serves
   * any request. */
  if (w->av_type != FI_AV_UNSPEC && w->av_type != FI_AV_MAP && w->av_type != FI_AV_TABLE)
    return MISMATCH("av_type");
  if (!subset(w->caps, h->caps | SECONDARY_CAPS))
    return MISMATCH("domain caps");
  if (w->cq_data_size > h->cq_data_size)
    return MISMATCH("cq_data_size (4 bytes)");
  if (w->max_ep_tx_ctx > 1 || w->max_ep_rx_ctx > 1 || w->max_ep_stx_ctx || w->max_ep_srx_ctx)
    return MISMATCH("scalable or shared contexts");
  if (w->cntr_cnt)
    return MISMATCH("counters");
  return 1;
}

static int ep_ok(const struct fi_ep_attr *w, const struct fi_ep_attr *h)
{
  if (w->type != FI_EP_UNSPEC && w->type != h->type)
    return MISMATCH("endpoint type (only FI_EP_RDM)");
  if (w->protocol != FI_PROTO_UNSPEC && w->protocol != h->protocol)
    return MISMATCH("protocol");
  if (!within(w->max_msg_size, h->max_msg_size))
    return MISMATCH("max_msg_size");
  if (!tags_fit(w->mem_tag_format, h->mem_tag_format))
    return MISMATCH("mem_tag_format");
  if (w->msg_prefix_size)
    return MISMATCH("message prefixes");
  if (w->tx_ctx_cnt > 1 || w->rx_ctx_cnt > 1)
    return MISMATCH("several contexts per endpoint");
  return 1;
}

static int hints_ok(uint32_t version, const struct fi_info *w, const struct fi_info *h)
{
  if (version < FXN_API_MIN)
    return MISMATCH("API older than 1.5");
  if (!w)
    return 1;
  if (!subset(w->caps, PRIMARY_CAPS | SECONDARY_CAPS))
    return MISMATCH("caps");
  if (w->addr_format != FI_FORMAT_UNSPEC)
    return MISMATCH("address format (ours is opaque)");
  if (w->fabric_attr) {
    if (w->fabric_attr->name && strcmp(w->fabric_attr->name, FXN_NAME))
      return MISMATCH("fabric name");
    if (w->fabric_attr->prov_name && !strstr(w->fabric_attr->prov_name, FXN_NAME))
      return MISMATCH("provider name");
  }
  return (!w->ep_attr || ep_ok(w->ep_attr, h->ep_attr)) &&
         (!w->domain_attr || domain_ok(w->domain_attr, h->domain_attr)) &&
         (!w->tx_attr || tx_ok(w->tx_attr, h->tx_attr)) &&
         (!w->rx_attr || rx_ok(w->rx_attr, h->rx_attr));
}

/* Narrow what is offered to what was asked: the caps asked for (all
 * primary caps if none) plus our secondary ones, and the caller's choice
 * of the models and sizes we serve whatever they are. */
static void narrow(struct fi_info *fi, const struct fi_info *w)
{
  uint64_t primary = w->caps & PRIMARY_CAPS;
  if (!primary)
    primary = PRIMARY_CAPS;
  if (!(primary & (FI_SEND | FI_RECV)))
    primary |= FI_SEND | FI_RECV;
  if (!(primary & (FI_MSG | FI_TAGGED)))
    primary |= w->caps ? 0 : FI_MSG | FI_TAGGED;
  fi->caps = primary | SECONDARY_CAPS;
  fi->tx_attr->caps &= fi->caps;
  fi->rx_attr->caps &= fi->caps;
  if (w->domain_attr) {
    const struct fi_domain_attr *d = w->domain_attr;
    if (d->threading)
      fi->domain_attr->threading = d->threading;
    if (d->control_progress)
      fi->domain_attr->control_progress = d->control_progress;
    if (d->data_progress)
      fi->domain_attr->data_progress = d->data_progress;
    if (d->resource_mgmt)
      fi->domain_attr->resource_mgmt = d->resource_mgmt;
    fi->domain_attr->av_type = d->av_type ? d->av_type : FI_AV_TABLE;
  } else {
    fi->domain_attr->av_type = FI_AV_TABLE;
  }
  /* The info's op_flags are an endpoint's defaults: what was asked, or just
   * FI_COMPLETION (not every flag we could honour: that would make every
   * send synchronous). */
  fi->tx_attr->op_flags = FI_COMPLETION;
  fi->rx_attr->op_flags = FI_COMPLETION;
  if (w->tx_attr) {
    if (w->tx_attr->op_flags)
      fi->tx_attr->op_flags = w->tx_attr->op_flags;
    if (w->tx_attr->size)
      fi->tx_attr->size = w->tx_attr->size;
    if (w->tx_attr->iov_limit)
      fi->tx_attr->iov_limit = w->tx_attr->iov_limit;
    if (w->tx_attr->inject_size)
      fi->tx_attr->inject_size = w->tx_attr->inject_size;
  }
  if (w->rx_attr) {
    if (w->rx_attr->op_flags)
      fi->rx_attr->op_flags = w->rx_attr->op_flags;
    if (w->rx_attr->size)
      fi->rx_attr->size = w->rx_attr->size;
    if (w->rx_attr->iov_limit)
      fi->rx_attr->iov_limit = w->rx_attr->iov_limit;
  }
}

static int copy_dest(struct fi_info *fi, const struct fi_info *w)
{
  if (!w->dest_addr || !w->dest_addrlen)
    return 0;
  if (w->dest_addrlen != sizeof(struct fxn_name))
    return -1;
  fi->dest_addr = malloc(w->dest_addrlen);
  if (!fi->dest_addr)
    return -1;
  memcpy(fi->dest_addr, w->dest_addr, w->dest_addrlen);
  fi->dest_addrlen = w->dest_addrlen;
  return 0;
}

int fxn_getinfo(uint32_t version, const char *node, const char *service, uint64_t flags,
                const struct fi_info *hints, struct fi_info **info)
{
  (void)node, (void)service, (void)flags;
  *info = NULL;
  if (hints && hints->ep_attr && hints->ep_attr->type != FI_EP_UNSPEC &&
      hints->ep_attr->type != FI_EP_RDM)
    return -FI_ENODATA; /* (ofi_rxm and ofi_rxd ask for MSG and DGRAM) */
  if (hints && hints->fabric_attr && hints->fabric_attr->prov_name &&
      !strstr(hints->fabric_attr->prov_name, FXN_NAME))
    return -FI_ENODATA; /* asked for another provider: no need to reach the backend */
  if (!fxn_mx_ready())
    return -FI_ENODATA;
  uint32_t boards = 0;
  struct board b;
  if (mx_get_info(NULL, MX_NIC_COUNT, NULL, 0, &boards, sizeof(boards)) != MX_SUCCESS ||
      board_facts(&b) < 0)
    return -FI_ENODATA;
  struct fi_info *tail = NULL;
  for (uint32_t nr = 0; nr < boards; nr++) {
    struct fi_info *fi = offer(nr, &b);
    if (!fi)
      break;
    if (!hints_ok(version, hints, fi)) {
      fi_freeinfo(fi);
      continue;
    }
    if (hints) {
      narrow(fi, hints);
      if (copy_dest(fi, hints) < 0) {
        fi_freeinfo(fi);
        continue;
      }
    } else {
      fi->domain_attr->av_type = FI_AV_TABLE;
      fi->tx_attr->op_flags = FI_COMPLETION;
      fi->rx_attr->op_flags = FI_COMPLETION;
    }
    if (tail)
      tail->next = fi;
    else
      *info = fi;
    tail = fi;
  }
  return *info ? 0 : -FI_ENODATA;
}
