/* fault.c - the fault layer (see fault.h). */
#include "fault.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fault_held {
  uint64_t due_ns;
  uint8_t to[FAULT_TO_MAX];
  uint32_t tolen;
  uint32_t len;
  uint8_t pkt[];
};

#define REORDER_HOLD_NS 300000ull /* long enough for the next packets to overtake */

int fault_parse(struct fault_cfg *cfg, const char *spec, char *err, size_t errlen)
{
  char buf[256], *save = NULL;
  memset(cfg, 0, sizeof(*cfg));
  cfg->seed = 1;
  snprintf(buf, sizeof(buf), "%s", spec);
  for (char *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
    char *eq = strchr(kv, '=');
    char *end = NULL;
    if (!eq) {
      snprintf(err, errlen, "fault spec: '%s' is not key=value", kv);
      return -1;
    }
    *eq++ = 0;
    double v = strtod(eq, &end);
    if (!*eq || *end || v < 0) {
      snprintf(err, errlen, "fault spec: bad value '%s' for %s", eq, kv);
      return -1;
    }
    if (!strcmp(kv, "loss"))
      cfg->loss = v;
    else if (!strcmp(kv, "dup"))
      cfg->dup = v;
    else if (!strcmp(kv, "reorder"))
      cfg->reorder = v;
    else if (!strcmp(kv, "corrupt"))
      cfg->corrupt = v;
    else if (!strcmp(kv, "delay_us"))
      cfg->delay_us = (uint32_t)v;
    else if (!strcmp(kv, "seed"))
      cfg->seed = (uint64_t)v;
    else {
      snprintf(err, errlen, "fault spec: unknown key '%s'", kv);
      return -1;
    }
    if (strcmp(kv, "delay_us") && strcmp(kv, "seed") && v > 1) {
      snprintf(err, errlen, "fault spec: %s=%g is not a probability", kv, v);
      return -1;
    }
  }
  return 0;
}

int fault_setup(struct fault *f, const struct fault_cfg *cfg, uint32_t held_max)
{
  fault_free(f);
  f->cfg = *cfg;
  f->rng = cfg->seed ? cfg->seed : 1;
  f->held_max = held_max;
  f->held = calloc(held_max, sizeof(*f->held));
  f->scratch = malloc(FAULT_PKT_MAX);
  if (!f->held || !f->scratch) {
    fault_free(f);
    return -1;
  }
  f->on = 1;
  return 0;
}

void fault_free(struct fault *f)
{
  for (uint32_t i = 0; i < f->nheld; i++)
    free(f->held[i]);
  free(f->held);
  free(f->scratch);
  f->held = NULL;
  f->scratch = NULL;
  f->nheld = 0;
  f->on = 0;
}

static double draw(struct fault *f)
{
  f->rng ^= f->rng << 13;
  f->rng ^= f->rng >> 7;
  f->rng ^= f->rng << 17;
  return (double)(f->rng >> 11) / (double)(1ull << 53);
}

/* Keep a packet back until due, in a buffer of its size (a held packet
 * may be a 64 KiB frame); sent at once if no slot (or no memory) is free. */
static int hold(struct fault *f, fault_xmit_fn xmit, void *ctx, const void *to, size_t tolen,
                const uint8_t *pkt, size_t len, uint64_t due)
{
  struct fault_held *h = NULL;
  if (f->nheld == f->held_max || tolen > FAULT_TO_MAX ||
      !(h = malloc(sizeof(*h) + len))) {
    f->c.held_overflow++;
    return xmit(ctx, to, tolen, pkt, len, 0);
  }
  f->held[f->nheld++] = h;
  h->due_ns = due;
  memcpy(h->to, to, tolen);
  h->tolen = (uint32_t)tolen;
  h->len = (uint32_t)len;
  memcpy(h->pkt, pkt, len);
  return 0;
}

int fault_flush(struct fault *f, fault_xmit_fn xmit, void *ctx, uint64_t now_ns)
{
  int sent = 0;
  for (uint32_t i = 0; i < f->nheld;) {
    struct fault_held *h = f->held[i];
    if (h->due_ns > now_ns) {
      i++;
      continue;
    }
    xmit(ctx, h->to, h->tolen, h->pkt, h->len, 0); /* flags 0: the layer below copies it */
    free(h);
    sent++;
    f->held[i] = f->held[--f->nheld];
  }
  return sent;
}

/* What fault_send and fault_pass share: draw the packet's fate; send or
 * hold what it makes of it, or, for a batching caller (passed), leave a
 * packet that goes once, unharmed and at once to it (*passed = 1). */
static int route(struct fault *f, fault_xmit_fn xmit, void *ctx, const void *to, size_t tolen,
                 const void *pkt, size_t len, uint64_t now_ns, int flags, int *passed)
{
  if (!f->on || len > FAULT_PKT_MAX) {
    if (passed)
      return *passed = 1, 0;
    return xmit(ctx, to, tolen, pkt, len, flags);
  }
  if (draw(f) < f->cfg.loss) {
    f->c.lost++;
    return 0;
  }
  const uint8_t *out = pkt; /* sent with flags 0: the layer below copies it */
  if (draw(f) < f->cfg.corrupt) {
    memcpy(f->scratch, pkt, len);
    f->scratch[(size_t)(draw(f) * (double)len)] ^= (uint8_t)(1u << (int)(draw(f) * 8));
    f->c.corrupted++;
    out = f->scratch;
  }
  int copies = 1;
  if (draw(f) < f->cfg.dup) {
    f->c.duplicated++;
    copies = 2;
  }
  int rc = 0;
  for (int k = 0; k < copies; k++) {
    uint64_t due = now_ns + (uint64_t)f->cfg.delay_us * 1000;
    int held = f->cfg.delay_us != 0;
    f->c.delayed += held;
    if (draw(f) < f->cfg.reorder) {
      f->c.reordered++;
      due += REORDER_HOLD_NS; /* the packets after it overtake it */
      held = 1;
    }
    if (passed && copies == 1 && out == pkt && !held)
      return *passed = 1, 0;
    rc |= held ? hold(f, xmit, ctx, to, tolen, out, len, due)
               : xmit(ctx, to, tolen, out, len, 0);
  }
  return rc;
}

int fault_send(struct fault *f, fault_xmit_fn xmit, void *ctx, const void *to, size_t tolen,
               const void *pkt, size_t len, uint64_t now_ns, int flags)
{
  return route(f, xmit, ctx, to, tolen, pkt, len, now_ns, flags, NULL);
}

int fault_pass(struct fault *f, fault_xmit_fn xmit, void *ctx, const void *to, size_t tolen,
               const void *pkt, size_t len, uint64_t now_ns)
{
  int passed = 0;
  route(f, xmit, ctx, to, tolen, pkt, len, now_ns, 0, &passed);
  return passed;
}
