/**
 * Interop through the IPsec service: a userspace-backend IpSecManager on the HOST and an
 * unprivileged IpSecManager with `backend: 'service'` in the kernel-peer GUEST (its root daemon
 * owns the kernel SAs) exchange UDP both ways over ESP-in-UDP — AES-GCM and AES-CBC + HMAC-SHA256,
 * with and without ESN. The cases and assertions are kernel_backend_interop.test.ts's own; this
 * file runs them with the guest end switched to the service.
 * @requires root (qemu and the kernel-peer image)
 */
process.env.TSNETD_INTEROP_VIA_SERVICE = '1';
await import('./kernel_backend_interop.test.ts');
