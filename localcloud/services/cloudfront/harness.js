// Runs CloudFront Functions for the local cloud: one JSON request per stdin line, one JSON answer
// per stdout line. Each function's code runs in its own vm context (its globals persist between
// calls, as they may at an edge location), with CloudFront's time limit standing in as 1 second.
'use strict';

const vm = require('vm');
const readline = require('readline');

const TIME_LIMIT_MS = 1000;
const MODULES = { crypto: require('crypto'), querystring: require('querystring') };
const functions = new Map();

function load(key, code, runtime) {
  const logs = [];
  const sandbox = {
    console: { log: (...args) => logs.push(args.map(String).join(' ')) },
    require: (name) => {
      if (runtime === 'cloudfront-js-2.0' && name in MODULES) return MODULES[name];
      throw new Error(`Cannot find module '${name}' in ${runtime}`);
    },
  };
  if (runtime === 'cloudfront-js-2.0') sandbox.Buffer = Buffer;
  const context = vm.createContext(sandbox);
  vm.runInContext(code, context, { filename: key, timeout: TIME_LIMIT_MS });
  if (vm.runInContext('typeof handler', context) !== 'function') {
    throw new Error('the function code defines no handler(event) function');
  }
  const entry = { context, logs };
  functions.set(key, entry);
  return entry;
}

function timeLimit() {
  return new Promise((_, reject) =>
    setTimeout(() => reject(new Error(`the function did not finish within ${TIME_LIMIT_MS} ms`)), TIME_LIMIT_MS),
  );
}

async function run(message) {
  let entry = { logs: [] };
  try {
    entry = functions.get(message.key) || load(message.key, message.code, message.runtime);
    entry.logs.length = 0;
    entry.context.__event = message.event;
    let result = vm.runInContext('handler(__event)', entry.context, { timeout: TIME_LIMIT_MS });
    if (result && typeof result.then === 'function') result = await Promise.race([result, timeLimit()]);
    return { id: message.id, ok: true, result: result === undefined ? null : result, logs: entry.logs };
  } catch (error) {
    return { id: message.id, ok: false, error: String((error && error.stack) || error), logs: entry.logs };
  }
}

const lines = readline.createInterface({ input: process.stdin });
let queue = Promise.resolve();
lines.on('line', (line) => {
  queue = queue.then(async () => {
    let answer;
    try {
      answer = await run(JSON.parse(line));
    } catch (error) {
      answer = { id: null, ok: false, error: String((error && error.stack) || error), logs: [] };
    }
    process.stdout.write(JSON.stringify(answer) + '\n');
  });
});
