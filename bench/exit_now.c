/* The cheapest process to exec: static, no libc, no dynamic loader; it exits 0 at once. The soak's
 * exec bursts spawn it so that even a slow VM makes enough exec events to overflow the sched
 * ring (/bin/true pays for ld.so and libc: ~3x fewer execs per second). x86-64 only, as the
 * project is (vmlinux/x86). */
void _start(void)
{
	__asm__ volatile("mov $60, %%eax\n\txor %%edi, %%edi\n\tsyscall" ::: "memory"); /* exit(0) */
	for (;;) {
	}
}
