// Jest environment for tests that run onnxruntime-node. Jest evaluates test code in a
// separate V8 realm, while onnxruntime's native binding returns typed arrays of the main
// realm; onnxruntime-common then rejects them ("A float32 tensor's data must be type of
// Float32Array"). Sharing the main realm's typed-array constructors fixes that.
// Use with the docblock `@jest-environment ./test/helpers/onnx-environment.js`.
const { TestEnvironment } = require('jest-environment-node');

const TYPED = ['Float32Array', 'Float64Array', 'Int8Array', 'Uint8Array', 'Int16Array', 'Uint16Array', 'Int32Array', 'Uint32Array', 'BigInt64Array', 'BigUint64Array', 'Uint8ClampedArray'];

class OnnxEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    for (const name of TYPED) this.global[name] = globalThis[name];
  }
}

module.exports = OnnxEnvironment;
