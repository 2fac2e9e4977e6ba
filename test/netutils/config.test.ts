import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseNetutilsConfig } from '../../src/netutils/config.ts';
import { InvalidConfigError } from '../../src/netutils/errors.ts';

test('parseNetutilsConfig() accepts a full configuration and normalises it', () => {
  const config = parseNetutilsConfig(
    JSON.stringify({
      release: '9',
      binDir: '/usr/sbin/',
      vendorInterfacePatterns: ['vnd[0-9]+'],
      vendorChainPatterns: ['vnd_.*'],
      verdicts: 'android',
    }),
    'inline',
  );
  assert.deepEqual(config, {
    release: '8.1-9',
    binDir: '/usr/sbin',
    vendorInterfacePatterns: ['vnd[0-9]+'],
    vendorChainPatterns: ['vnd_.*'],
    verdicts: 'android',
  });
});

test('parseNetutilsConfig() defaults to Android 15 with no extensions', () => {
  assert.deepEqual(parseNetutilsConfig('{}', 'inline'), {
    release: '15',
    vendorInterfacePatterns: [],
    vendorChainPatterns: [],
    verdicts: 'hardened',
  });
  assert.equal(parseNetutilsConfig('{"release":"12-13"}', 'inline').release, '12-13');
});

test('parseNetutilsConfig() accepts only "hardened" or "android" verdicts', () => {
  assert.equal(parseNetutilsConfig('{"verdicts":"hardened"}', 'inline').verdicts, 'hardened');
  for (const bad of ['"strict"', '1', 'null', '"ANDROID"']) {
    assert.throws(
      () => parseNetutilsConfig(`{"verdicts":${bad}}`, 'inline'),
      /"verdicts" must be "hardened" or "android"/,
    );
  }
});

test('parseNetutilsConfig() refuses malformed configurations with InvalidConfigError', () => {
  const bad: Array<[string, RegExp]> = [
    ['', /not valid JSON/],
    ['{', /not valid JSON/],
    ['[]', /top level must be a JSON object/],
    ['null', /top level/],
    ['"15"', /top level/],
    ['{"relase":"15"}', /unknown key "relase"/],
    ['{"release":15}', /"release" must be a string/],
    ['{"release":"7"}', /unknown "release" "7"/],
    ['{"release":"__proto__"}', /unknown "release"/],
    ['{"binDir":5}', /"binDir" must be a string/],
    ['{"binDir":"usr/sbin"}', /not an absolute path/],
    ['{"binDir":"/usr/s bin"}', /whitespace/],
    ['{"vendorInterfacePatterns":"vnd0"}', /must be an array/],
    ['{"vendorInterfacePatterns":[1]}', /\[0\] must be a string/],
    ['{"vendorInterfacePatterns":[""]}', /1 to 256 characters/],
    ['{"vendorInterfacePatterns":["vnd(0"]}', /not a valid pattern/],
    ['{"vendorInterfacePatterns":["\\\\d+"]}', /not a valid pattern/],
    ['{"vendorChainPatterns":["[[:alpha:]]+"]}', /not a valid pattern/],
    ['{"vendorChainPatterns":["vnd_.*$"]}', /anchors/],
    ['{"vendorChainPatterns":["^vnd"]}', /anchors/],
    ['{"vendorChainPatterns":[".*"]}', /matches the empty string/],
    ['{"vendorInterfacePatterns":["(x)?"]}', /matches the empty string/],
    [`{"vendorChainPatterns":${JSON.stringify(Array(65).fill('a'))}}`, /more than 64/],
  ];
  for (const [text, reason] of bad) {
    assert.throws(
      () => parseNetutilsConfig(text, '/etc/tsnetd/netutils.json'),
      (err: unknown) => {
        assert.ok(err instanceof InvalidConfigError, text);
        assert.equal(err.code, 'ERR_NETUTILS_INVALID_CONFIG');
        assert.equal(err.name, 'InvalidConfigError');
        assert.match(err.message, /^Cannot load configuration "\/etc\/tsnetd\/netutils.json": /);
        assert.match(err.message, reason, text);
        return true;
      },
    );
  }
});
