// ioredis as apps use it, against tollgate and against redis-server side by side: the same
// steps on both, every result compared. Usage: node compat.js <tollgate port> <redis port>.
// Prints OK last when every result matched.
'use strict';
const Redis = require('ioredis');

// A token bucket as Node rate limiters write it: one script, defined once, called by name.
const TOKEN_BUCKET = `
local tokens = tonumber(redis.call('HGET', KEYS[1], 'tokens') or ARGV[1])
local last = tonumber(redis.call('HGET', KEYS[1], 'ts') or ARGV[3])
local rate, cap, now = tonumber(ARGV[2]), tonumber(ARGV[1]), tonumber(ARGV[3])
tokens = math.min(cap, tokens + (now - last) * rate)
local allowed = 0
if tokens >= 1 then tokens = tokens - 1; allowed = 1 end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'ts', now)
redis.call('PEXPIRE', KEYS[1], 60000)
return {allowed, math.floor(tokens)}`;

async function steps(port) {
  const out = [];
  const note = (what, v) => out.push([what, v]);
  const caught = async (what, p) => {
    try {
      note(what, await p);
    } catch (e) {
      note(what, `error: ${e.message}`);
    }
  };
  const r = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 1 });
  await r.connect();
  await r.flushall();

  // defineCommand: EVALSHA first, EVAL on NOSCRIPT, as ioredis does.
  r.defineCommand('takeToken', { numberOfKeys: 1, lua: TOKEN_BUCKET });
  for (let i = 0; i < 5; i++) {
    note(`takeToken ${i}`, await r.takeToken('bucket:user1', 3, 0, 1000));
  }
  await r.script('FLUSH');
  note('takeToken after SCRIPT FLUSH', await r.takeToken('bucket:user1', 3, 0, 1000));
  await caught('bad script', r.eval('return redis.call("NOPE")', 0));
  await caught('error_reply', r.eval("return redis.error_reply('MY failure')", 0));
  note('script exists', await r.script('EXISTS', 'ffffffffffffffffffffffffffffffffffffffff'));

  // Hashes and lists through a pipeline and a transaction.
  const p = r.pipeline();
  p.hset('user:1', { name: 'Ada', plan: 'pro', credits: 10 });
  p.hincrby('user:1', 'credits', -3);
  p.hgetall('user:1');
  p.rpush('jobs', 'a', 'b', 'c');
  p.lrange('jobs', 0, -1);
  p.lpop('jobs');
  note('pipeline', await p.exec());
  note('multi', await r.multi().incr('n').expire('n', 60).ttl('n').exec());
  note('hgetall missing', await r.hgetall('nobody'));

  // Blocking pop served by another connection.
  const blocker = r.duplicate();
  const popped = blocker.blpop('queue', 5);
  await new Promise((res) => setTimeout(res, 100));
  await r.rpush('queue', 'job-1');
  note('blpop', await popped);
  blocker.disconnect();

  // Pub/sub: cache invalidation between app instances.
  const sub = r.duplicate();
  const got = [];
  sub.on('message', (ch, msg) => got.push(['message', ch, msg]));
  sub.on('pmessage', (pat, ch, msg) => got.push(['pmessage', pat, ch, msg]));
  note('subscribe', await sub.subscribe('invalidate'));
  note('psubscribe', await sub.psubscribe('cache:*'));
  note('publish 1', await r.publish('invalidate', 'user:1'));
  note('publish 2', await r.publish('cache:embeddings', 'purge'));
  note('numsub', await r.pubsub('NUMSUB', 'invalidate'));
  await new Promise((res) => setTimeout(res, 100));
  note('received', got);
  note('unsubscribe', await sub.unsubscribe('invalidate'));
  sub.disconnect();

  // Keyspace habits.
  note('scan', (await r.scan('0', 'MATCH', 'user:*', 'COUNT', 100))[1]);
  note('type', await r.type('user:1'));
  note('set nx px', await r.set('lock:x', 'token', 'PX', 1000, 'NX'));
  note('set nx px again', await r.set('lock:x', 'token', 'PX', 1000, 'NX'));
  await r.quit();
  return out;
}

async function main() {
  const [tollgate, redis] = process.argv.slice(2).map(Number);
  const ours = await steps(tollgate);
  const theirs = await steps(redis);
  let failed = 0;
  for (let i = 0; i < Math.max(ours.length, theirs.length); i++) {
    const a = JSON.stringify(ours[i]);
    const b = JSON.stringify(theirs[i]);
    if (a !== b) {
      failed++;
      console.log(`mismatch:\n  tollgate: ${a}\n  redis:    ${b}`);
    }
  }
  console.log(`ioredis ${require('ioredis/package.json').version}: ${ours.length} steps`);
  if (failed) {
    console.log(`${failed} mismatches`);
    process.exit(1);
  }
  console.log('OK');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
