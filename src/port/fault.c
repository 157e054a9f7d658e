/* fault.c - the fault layer of a port (see fault.h) and its place on the
 * way out: port_send. */
#include "fault.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "port.h"

struct fault_held {
  uint64_t due_ns;
  struct port_addr to;
  uint32_t len;
  uint8_t pkt[];
};

#define HELD_SLOT (sizeof(struct fault_held) + 9216)
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

int fault_setup(struct fault *f, const struct fault_cfg *cfg)
{
  fault_free(f);
  f->cfg = *cfg;
  f->rng = cfg->seed ? cfg->seed : 1;
  f->held = calloc(FAULT_HELD_MAX, HELD_SLOT);
  if (!f->held)
    return -1;
  f->on = 1;
  return 0;
}

void fault_free(struct fault *f)
{
  free(f->held);
  f->held = NULL;
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

static struct fault_held *held_at(struct fault *f, uint32_t i)
{
  return (struct fault_held *)((uint8_t *)f->held + (size_t)i * HELD_SLOT);
}

/* Keep a packet back until due; sent at once if no slot is free. */
static int hold(struct port *p, const struct port_addr *to, const uint8_t *pkt, size_t len,
                uint64_t due)
{
  struct fault *f = &p->fault;
  if (f->nheld == FAULT_HELD_MAX || len > 9216) {
    f->c.held_overflow++;
    return port_xmit(p, to, pkt, len, 0);
  }
  struct fault_held *h = held_at(f, f->nheld++);
  h->due_ns = due;
  h->to = *to;
  h->len = (uint32_t)len;
  memcpy(h->pkt, pkt, len);
  return 0;
}

int port_flush_delayed(struct port *p, uint64_t now_ns)
{
  struct fault *f = &p->fault;
  int sent = 0;
  for (uint32_t i = 0; i < f->nheld;) {
    struct fault_held *h = held_at(f, i);
    if (h->due_ns > now_ns) {
      i++;
      continue;
    }
    port_xmit(p, &h->to, h->pkt, h->len, 0); /* the slot is reused at once */
    sent++;
    if (i != --f->nheld)
      memcpy(h, held_at(f, f->nheld), HELD_SLOT);
  }
  return sent;
}

int port_send(struct port *p, const struct port_addr *to, const void *pkt, size_t len,
              uint64_t now_ns, int flags)
{
  struct fault *f = &p->fault;
  if (!f->on)
    return port_xmit(p, to, pkt, len, flags);
  if (draw(f) < f->cfg.loss) {
    f->c.lost++;
    return 0;
  }
  uint8_t copy[9216];
  if (len > sizeof(copy))
    return port_xmit(p, to, pkt, len, flags);
  memcpy(copy, pkt, len);
  if (draw(f) < f->cfg.corrupt) {
    copy[(size_t)(draw(f) * (double)len)] ^= (uint8_t)(1u << (int)(draw(f) * 8));
    f->c.corrupted++;
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
    rc |= held ? hold(p, to, copy, len, due) : port_xmit(p, to, copy, len, 0);
  }
  return rc;
}
