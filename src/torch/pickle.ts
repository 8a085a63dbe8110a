// A restricted unpickler: Python's pickle machine (protocols 0-5) with every global replaced.
// Only a short list of pure data builders is known (PyTorch's tensor rebuild functions and
// storage types, OrderedDict, set, …) and they build plain JS values; every other global becomes
// an inert StandIn that records its name. REDUCE, NEWOBJ and BUILD on a stand-in give another
// stand-in holding the arguments: nothing from a file is ever imported, called or evaluated.
// (PyTorch's own weights_only loader refuses Lightning checkpoints outright; this loads them
// and stays safe.)
import { FileFormatError } from '../errors.js';

/** A global the file names that is not a known data builder: recorded, never resolved. */
export class StandIn {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get qualifiedName(): string {
    return `${this.module}.${this.name}`;
  }
}

/** The result of calling (REDUCE/NEWOBJ) or building (BUILD) a stand-in: the data, kept inert. */
export class StandInCall {
  state: unknown = undefined;
  constructor(
    readonly callee: StandIn,
    readonly args: readonly unknown[],
  ) {}
}

/** Python's tuple (a frozen array). */
export type PyTuple = readonly unknown[];

/** A persistent id resolved by the loader (PyTorch: its storages). */
export type PersistentLoad = (pid: unknown) => unknown;

/** A known builder: takes the REDUCE arguments, returns a JS value. */
export type Builder = (...args: unknown[]) => unknown;

export interface UnpickleOptions {
  /** Known globals by 'module.name'; a class-like builder may also be the target of NEWOBJ/BUILD. */
  builders: ReadonlyMap<string, Builder>;
  persistentLoad?: PersistentLoad;
  /** For messages. */
  where: string;
}

export interface UnpickleResult {
  value: unknown;
  /** Every global that was replaced by a stand-in, by qualified name. */
  standIns: Set<string>;
  /** Bytes read, STOP included: where the next pickle of a stream of them starts. */
  end: number;
}

class Reader {
  pos = 0;
  constructor(
    readonly bytes: Uint8Array,
    readonly where: string,
  ) {}
  #view = (): DataView => new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
  need(n: number): void {
    if (this.pos + n > this.bytes.length)
      throw new FileFormatError(
        `${this.where}: the pickle ends early (needs ${n} more byte(s) at offset ${this.pos} of ${this.bytes.length}); the file is truncated`,
      );
  }
  u8(): number {
    this.need(1);
    return this.bytes[this.pos++]!;
  }
  u16(): number {
    this.need(2);
    const v = this.#view().getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.#view().getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  i32(): number {
    this.need(4);
    const v = this.#view().getInt32(this.pos, true);
    this.pos += 4;
    return v;
  }
  u64(): number {
    this.need(8);
    const v = Number(this.#view().getBigUint64(this.pos, true));
    this.pos += 8;
    return v;
  }
  f64be(): number {
    this.need(8);
    const v = this.#view().getFloat64(this.pos, false);
    this.pos += 8;
    return v;
  }
  take(n: number): Uint8Array {
    this.need(n);
    const v = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
  line(): string {
    const end = this.bytes.indexOf(0x0a, this.pos);
    if (end < 0)
      throw new FileFormatError(
        `${this.where}: the pickle ends early (an unterminated text line at offset ${this.pos})`,
      );
    const text = new TextDecoder('latin1').decode(this.bytes.subarray(this.pos, end));
    this.pos = end + 1;
    return text;
  }
}

/** Little-endian two's-complement integer of any length (LONG1/LONG4), as a number when exact. */
function decodeLong(bytes: Uint8Array): number | bigint {
  if (bytes.length === 0) return 0;
  let value = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i]!);
  if (bytes[bytes.length - 1]! & 0x80) value -= 1n << BigInt(8 * bytes.length);
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
}

function utf8(bytes: Uint8Array): string {
  return new TextDecoder('utf8').decode(bytes);
}

/** Runs the pickle in `bytes` with only `builders` known. */
export function unpickle(bytes: Uint8Array, { builders, persistentLoad, where }: UnpickleOptions): UnpickleResult {
  const r = new Reader(bytes, where);
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  const standIns = new Set<string>();
  const fail = (why: string): never => {
    throw new FileFormatError(`${where}: not a pickle this loader can read: ${why} (offset ${r.pos})`);
  };
  const pop = (): unknown => {
    if (stack.length === 0) fail('the stack is empty');
    return stack.pop();
  };
  const popMark = (): unknown[] => {
    const m = marks.pop();
    if (m === undefined) fail('no MARK on the stack');
    return stack.splice(m!);
  };
  const top = (): unknown => {
    if (stack.length === 0) fail('the stack is empty');
    return stack[stack.length - 1];
  };
  const global = (module: string, name: string): unknown => {
    const builder = builders.get(`${module}.${name}`);
    if (builder) return builder;
    standIns.add(`${module}.${name}`);
    return new StandIn(module, name);
  };
  const call = (callee: unknown, args: unknown): unknown => {
    const list = Array.isArray(args) ? args : fail('call arguments are not a tuple');
    if (callee instanceof StandIn) return new StandInCall(callee, list as unknown[]);
    if (typeof callee === 'function') return (callee as Builder)(...(list as unknown[]));
    if (callee instanceof StandInCall) return new StandInCall(callee.callee, list as unknown[]);
    return fail(`a call of something that is not a global (${typeof callee})`);
  };
  const setItems = (target: unknown, items: unknown[]): void => {
    if (!(target instanceof Map)) {
      if (target instanceof StandInCall) {
        target.state = items;
        return;
      }
      fail('SETITEM(S) on something that is not a dict');
    }
    for (let i = 0; i + 1 < items.length; i += 2) (target as Map<unknown, unknown>).set(keyOf(items[i]), items[i + 1]);
  };
  const append = (target: unknown, items: unknown[]): void => {
    if (Array.isArray(target) && !Object.isFrozen(target)) {
      target.push(...items);
      return;
    }
    if (target instanceof StandInCall) {
      target.state = items;
      return;
    }
    fail('APPEND(S) on something that is not a list');
  };

  for (;;) {
    const op = r.u8();
    switch (op) {
      case 0x80:
        r.u8();
        break; // PROTO
      case 0x95:
        r.u64();
        break; // FRAME
      case 0x2e: {
        // STOP
        if (stack.length !== 1) fail(`${stack.length} values left at STOP`);
        return { value: stack[0], standIns, end: r.pos };
      }
      case 0x28:
        marks.push(stack.length);
        break; // MARK
      case 0x30:
        pop();
        break; // POP
      case 0x31:
        popMark();
        break; // POP_MARK
      case 0x32:
        stack.push(top());
        break; // DUP
      case 0x4e:
        stack.push(null);
        break; // NONE
      case 0x88:
        stack.push(true);
        break; // NEWTRUE
      case 0x89:
        stack.push(false);
        break; // NEWFALSE
      case 0x4a:
        stack.push(r.i32());
        break; // BININT
      case 0x4b:
        stack.push(r.u8());
        break; // BININT1
      case 0x4d:
        stack.push(r.u16());
        break; // BININT2
      case 0x8a:
        stack.push(decodeLong(r.take(r.u8())));
        break; // LONG1
      case 0x8b: {
        const n = r.i32();
        if (n < 0) fail('negative LONG4 length');
        stack.push(decodeLong(r.take(n)));
        break;
      } // LONG4
      case 0x49: {
        // INT (text): also True/False as 01/00
        const text = r.line();
        stack.push(text === '01' ? true : text === '00' ? false : Number(text));
        break;
      }
      case 0x4c:
        stack.push(Number(r.line().replace(/L$/, '')));
        break; // LONG (text)
      case 0x46:
        stack.push(Number(r.line()));
        break; // FLOAT (text)
      case 0x47:
        stack.push(r.f64be());
        break; // BINFLOAT
      case 0x58:
        stack.push(utf8(r.take(r.u32())));
        break; // BINUNICODE
      case 0x8c:
        stack.push(utf8(r.take(r.u8())));
        break; // SHORT_BINUNICODE
      case 0x8d:
        stack.push(utf8(r.take(r.u64())));
        break; // BINUNICODE8
      case 0x56:
        stack.push(r.line());
        break; // UNICODE (raw-unicode-escape; plain text here)
      case 0x54:
        stack.push(new TextDecoder('latin1').decode(r.take(r.i32())));
        break; // BINSTRING
      case 0x55:
        stack.push(new TextDecoder('latin1').decode(r.take(r.u8())));
        break; // SHORT_BINSTRING
      case 0x53:
        stack.push(r.line().replace(/^['"]|['"]$/g, ''));
        break; // STRING
      case 0x42:
        stack.push(Uint8Array.from(r.take(r.u32())));
        break; // BINBYTES
      case 0x43:
        stack.push(Uint8Array.from(r.take(r.u8())));
        break; // SHORT_BINBYTES
      case 0x8e:
        stack.push(Uint8Array.from(r.take(r.u64())));
        break; // BINBYTES8
      case 0x96:
        stack.push(Uint8Array.from(r.take(r.u64())));
        break; // BYTEARRAY8
      case 0x5d:
        stack.push([]);
        break; // EMPTY_LIST
      case 0x29:
        stack.push(Object.freeze([]));
        break; // EMPTY_TUPLE
      case 0x7d:
        stack.push(new Map());
        break; // EMPTY_DICT
      case 0x8f:
        stack.push(new Set());
        break; // EMPTY_SET
      case 0x74:
        stack.push(Object.freeze(popMark()));
        break; // TUPLE
      case 0x85:
        stack.push(Object.freeze([pop()]));
        break; // TUPLE1
      case 0x86: {
        const b = pop(),
          a = pop();
        stack.push(Object.freeze([a, b]));
        break;
      } // TUPLE2
      case 0x87: {
        const c = pop(),
          b = pop(),
          a = pop();
        stack.push(Object.freeze([a, b, c]));
        break;
      } // TUPLE3
      case 0x6c:
        stack.push(popMark());
        break; // LIST
      case 0x64: {
        const items = popMark();
        const d = new Map();
        setItems(d, items);
        stack.push(d);
        break;
      } // DICT
      case 0x91:
        stack.push(new Set(popMark().map(keyOf)));
        break; // FROZENSET
      case 0x61: {
        const v = pop();
        append(top(), [v]);
        break;
      } // APPEND
      case 0x65: {
        const items = popMark();
        append(top(), items);
        break;
      } // APPENDS
      case 0x73: {
        const v = pop(),
          k = pop();
        setItems(top(), [k, v]);
        break;
      } // SETITEM
      case 0x75: {
        const items = popMark();
        setItems(top(), items);
        break;
      } // SETITEMS
      case 0x90: {
        const items = popMark();
        const s = top();
        if (!(s instanceof Set)) fail('ADDITEMS on something that is not a set');
        for (const i of items) (s as Set<unknown>).add(keyOf(i));
        break;
      } // ADDITEMS
      case 0x71:
        memo.set(r.u8(), top());
        break; // BINPUT
      case 0x72:
        memo.set(r.u32(), top());
        break; // LONG_BINPUT
      case 0x70:
        memo.set(Number(r.line()), top());
        break; // PUT
      case 0x94:
        memo.set(memo.size, top());
        break; // MEMOIZE
      case 0x68:
      case 0x6a:
      case 0x67: {
        // BINGET, LONG_BINGET, GET
        const key = op === 0x68 ? r.u8() : op === 0x6a ? r.u32() : Number(r.line());
        if (!memo.has(key)) fail(`memo entry ${key} is missing`);
        stack.push(memo.get(key));
        break;
      }
      case 0x63: {
        const module = r.line();
        const name = r.line();
        stack.push(global(module, name));
        break;
      } // GLOBAL
      case 0x93: {
        const name = pop(),
          module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
        stack.push(global(module as string, name as string));
        break;
      } // STACK_GLOBAL
      case 0x52: {
        const args = pop(),
          callee = pop();
        stack.push(call(callee, args));
        break;
      } // REDUCE
      case 0x81: {
        const args = pop(),
          cls = pop();
        stack.push(call(cls, args));
        break;
      } // NEWOBJ
      case 0x92: {
        const kwargs = pop(),
          args = pop(),
          cls = pop();
        stack.push(call(cls, [...(args as unknown[]), kwargs]));
        break;
      } // NEWOBJ_EX
      case 0x62: {
        // BUILD: obj.__setstate__(state) or obj.__dict__.update(state), kept as data
        const state = pop();
        const obj = top();
        if (obj instanceof StandInCall) obj.state = state;
        else if (obj instanceof Map && state instanceof Map) for (const [k, v] of state) obj.set(k, v);
        else if (
          obj !== null &&
          typeof obj === 'object' &&
          'setState' in obj &&
          typeof (obj as { setState: unknown }).setState === 'function'
        )
          (obj as { setState(s: unknown): void }).setState(state);
        break;
      }
      case 0x51: {
        // BINPERSID
        const pid = pop();
        if (!persistentLoad) fail('a persistent id, and no loader for them');
        stack.push(persistentLoad!(pid));
        break;
      }
      case 0x50: {
        const pid = r.line();
        if (!persistentLoad) fail('a persistent id, and no loader for them');
        stack.push(persistentLoad!(pid));
        break;
      } // PERSID
      case 0x69: {
        // INST: module, name, then class args from the mark
        const module = r.line(),
          name = r.line();
        stack.push(call(global(module, name), popMark()));
        break;
      }
      case 0x6f: {
        const items = popMark();
        const [cls, ...args] = items;
        stack.push(call(cls, args));
        break;
      } // OBJ
      default:
        fail(`unknown opcode 0x${op.toString(16).padStart(2, '0')}`);
    }
  }
}

/** Map/Set keys: tuples of plain values compare by content (as Python's do). */
function keyOf(value: unknown): unknown {
  return Array.isArray(value) && Object.isFrozen(value) ? JSON.stringify(value) : value;
}
