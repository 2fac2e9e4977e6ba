#!/usr/bin/env node
/**
 * `netutils-wrapper-1.0` and its five names (`ip-wrapper-1.0`, `iptables-wrapper-1.0`,
 * `ip6tables-wrapper-1.0`, `ndc-wrapper-1.0`, `tc-wrapper-1.0`): runs an allow-listed subset of
 * the real tools. All logic lives in `src/netutils/wrapper.ts`; this file
 * imports only that module so start-up stays cheap.
 */
// First: no inspector on SIGUSR1, no NODE_OPTIONS as root (see process_guard.ts).
import './process_guard.ts';
import { runWrapper } from '../netutils/wrapper.ts';

process.exitCode = await runWrapper({ argv: process.argv, env: process.env });
