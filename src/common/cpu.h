/* cpu.h - the CPU as pollers see it: pausing in a spin, pinning to a core. */
#ifndef MYRIXEN_CPU_H
#define MYRIXEN_CPU_H


/* Tell the core we are spinning (frees the sibling hyperthread, saves power). */
static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

/* Pin the calling thread to core cpu (modulo the cores online); 0 or -1. */
int cpu_pin(int cpu);

#endif
