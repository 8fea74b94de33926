// Runs INSIDE the lab guest: the early-asserted IRQ through `vfiokit run`. Before the run, L1
// programs the pl031 through vfiokit (match = now + 1 s, the alarm interrupt unmasked), waits for
// its line to fire and closes the device without clearing it, so the level line is already
// asserted when the VMM wires it and before the guest's rtc-pl031 has requested its SPI. The guest
// must take that interrupt when its driver enables the SPI (the rtc-pl031 count is 1 before /init
// sets any alarm) and both alarms after it (the line was unmasked again after the first EOI). This
// file: irqfd (KVM irqfd + resample); vmm-run-irq-userspace the userspace path (its own file: its
// vCPU runs on a pool thread, slow under nested TCG). Shared parts: test/support/vmm-run.ts.
import { test } from 'uvu';
import { earlyAssertedIrq } from '../support/vmm-run';

test('the early-asserted IRQ on irqfd: the pl031\'s line is asserted before the VMM wires it; the guest takes that interrupt when its driver requests the SPI, and both alarms after', () => earlyAssertedIrq('on'));

test.run();
