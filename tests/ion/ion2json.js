// Reads binary Ion from stdin (or a file argument) and prints the equivalent JSON: structs as
// objects, lists as arrays, ints and floats as numbers, timestamps as epoch milliseconds. Tests
// compare this with profgate's JSON output for the same profile, so the Ion path is checked by an
// independent decoder (ion-js), not by our own code.
'use strict';
const fs = require('fs');
const ion = require('ion-js');

function toPlain(v) {
  if (v === null || v === undefined) return null;
  switch (v.getType()) {
    case ion.IonTypes.NULL: return null;
    case ion.IonTypes.BOOL: return v.booleanValue();
    case ion.IonTypes.INT: return Number(v.bigIntValue());
    case ion.IonTypes.FLOAT:
    case ion.IonTypes.DECIMAL: return v.numberValue();
    case ion.IonTypes.TIMESTAMP: return v.timestampValue().getDate().getTime();
    case ion.IonTypes.STRING:
    case ion.IonTypes.SYMBOL: return v.stringValue();
    case ion.IonTypes.LIST:
    case ion.IonTypes.SEXP: return v.elements().map(toPlain);
    case ion.IonTypes.STRUCT: {
      const out = {};
      for (const [k, x] of v.fields()) out[k] = toPlain(x);
      return out;
    }
    default: throw new Error('unexpected Ion type ' + v.getType().name);
  }
}

function decode(buf) {
  const bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
  if (bytes.length < 4 || bytes[0] !== 0xe0 || bytes[1] !== 0x01 || bytes[2] !== 0x00 || bytes[3] !== 0xea) {
    console.error('not binary Ion 1.0 (missing version marker)');
    process.exit(2);
  }
  const values = ion.loadAll(bytes);
  if (values.length !== 1) {
    console.error('expected exactly one top-level value, got ' + values.length);
    process.exit(2);
  }
  return toPlain(values[0]);
}

// One file (or stdin): its value. Several files: a JSON array of their values, in order, so a
// test decodes hundreds of profiles with one process.
const files = process.argv.slice(2);
if (files.length <= 1) {
  process.stdout.write(JSON.stringify(decode(fs.readFileSync(files[0] || 0))));
} else {
  process.stdout.write(JSON.stringify(files.map((f) => decode(fs.readFileSync(f)))));
}
