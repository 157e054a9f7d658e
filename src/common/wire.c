/* wire.c - sealing and checking wire packets (see wire.h). */
#include "wire.h"

#include <string.h>

#include "crc32c.h"

static uint32_t packet_crc(const struct wire_hdr *h, size_t len)
{
  struct wire_hdr copy;
  memcpy(&copy, h, sizeof(copy));
  copy.csum = 0;
  uint32_t c = crc32c(0, &copy, sizeof(copy));
  return crc32c(c, (const uint8_t *)h + sizeof(copy), len - sizeof(copy));
}

void wire_seal(struct wire_hdr *h, size_t len)
{
  h->csum = 0;
  h->csum = packet_crc(h, len);
}

int wire_check(const void *pkt, size_t len)
{
  struct wire_hdr h;
  if (len < sizeof(h))
    return WD_SHORT;
  memcpy(&h, pkt, sizeof(h));
  if (h.magic != WIRE_MAGIC)
    return WD_MAGIC;
  if (h.version != WIRE_VERSION)
    return WD_VERSION;
  if (h.type == 0 || h.type >= WIRE_TYPE_MAX)
    return WD_TYPE;
  if ((size_t)h.len + sizeof(h) > len)
    return WD_SHORT;
  if (!(h.flags & WIRE_F_MAC) && packet_crc(pkt, sizeof(h) + h.len) != h.csum)
    return WD_CSUM; /* (a MAC, checked before, covers a packet that has one) */
  return WD_OK;
}

int wire_data_split(const uint8_t *payload, uint32_t len, struct msg *m,
                    struct wire_data_ext *x, const uint8_t **piece)
{
  struct wire_desc desc;
  if (len < WIRE_DATA_OVERHEAD)
    return -1;
  memcpy(&desc, payload, WIRE_DATA_HDR);
  memcpy(x, payload + WIRE_DATA_HDR, sizeof(*x));
  wire_desc_to_msg(&desc, m);
  *piece = payload + WIRE_DATA_OVERHEAD;
  return x->piece_len == len - WIRE_DATA_OVERHEAD ? 0 : -1;
}

int wire_data_parse(const uint8_t *payload, uint32_t len, uint32_t medium_max, struct msg *m,
                    struct wire_data_ext *x, const uint8_t **piece)
{
  if (wire_data_split(payload, len, m, x, piece) < 0)
    return -1;
  switch (m->type) {
  case MSG_SMALL:
    return msg_data_valid(m, 0) && x->piece_off == 0 && x->piece_len == m->len ? 0 : -1;
  case MSG_FRAG:
    return msg_data_valid(m, medium_max) && x->piece_off <= m->len &&
                   x->piece_len <= m->len - x->piece_off
               ? 0
               : -1;
  case MSG_RNDV:
  case MSG_SYNC_ACK:
    return x->piece_len ? -1 : 0;
  default:
    return -1;
  }
}

int wire_piece_follows(const struct msg *first, const struct wire_data_ext *x0, uint32_t got,
                       const struct msg *m, const struct wire_data_ext *x)
{
  return m->type == first->type && m->flags == first->flags && m->frag == first->frag &&
         m->len == first->len && m->total == first->total && m->seq == first->seq &&
         m->match == first->match && m->cookie == first->cookie && x->src_eid == x0->src_eid &&
         x->dst_eid == x0->dst_eid && x->src_session == x0->src_session && x->piece_off == got;
}

const char *wire_drop_name(int reason)
{
  switch (reason) {
  case WD_SHORT: return "truncated";
  case WD_MAGIC: return "bad_magic";
  case WD_VERSION: return "bad_version";
  case WD_TYPE: return "bad_type";
  case WD_CSUM: return "bad_checksum";
  default: return "ok";
  }
}

uint64_t wire_nic_from_name(const char *name)
{
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (const char *c = name; *c; c++)
    h = (h ^ (uint8_t)*c) * 1099511628211ull;
  /* locally administered, unicast, 48 bits: the shape of a MAC */
  return ((h & 0xfeffffffffffull) | 0x020000000000ull) & 0xffffffffffffull;
}

void wire_desc_from_msg(struct wire_desc *d, const struct msg *m)
{
  *d = (struct wire_desc){.type = m->type, .flags = m->flags, .frag = m->frag, .len = m->len,
                          .total = m->total, .seq = m->seq, .match = m->match,
                          .cookie = m->cookie};
  if (m->type == MSG_RNDV) {
    d->grant = m->grant;
    d->imm = m->grant2;
  }
}

void wire_desc_to_msg(const struct wire_desc *d, struct msg *m)
{
  memset(m, 0, sizeof(*m)); /* nothing of the engine's stack reaches a guest */
  m->type = d->type;
  m->flags = d->flags;
  m->frag = d->frag;
  m->len = d->len;
  m->total = d->total;
  m->seq = d->seq;
  m->match = d->match;
  m->cookie = d->cookie;
  if (d->type == MSG_RNDV) {
    m->grant = d->grant;
    m->grant2 = d->imm;
  }
}
