//! A small pickle virtual machine for what `torch.save` writes (protocol 2, plus the few
//! protocol 3-5 opcodes newer Pythons may emit). It never executes Python: calls to classes
//! and functions it does not model produce [`OpaqueObject`]s.
//!
//! Pickle containers are mutable and shared (the memo hands out references, and `SETITEMS`
//! fills a dict after it was memoised), so the VM works on reference-counted cells and only
//! at the end freezes them into the plain [`PickleValue`] tree.
//!
//! The input is untrusted, so every resource it controls is bounded: lengths are checked
//! against the remaining bytes before anything is copied, the stack, marks, memo and
//! containers grow by at most one entry per opcode byte, the frozen tree is limited in depth
//! ([`MAX_DEPTH`]) and in size ([`frozen_size_limit`]), and the VM empties every container
//! when it is dropped, so reference cycles are freed and deep nesting never recurses.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::rc::Rc;

use super::opcodes::opcode_name;
use super::value::{OpaqueObject, PickleValue, StorageRef, TensorRef};
use crate::DType;

/// Deeper nesting than this is refused: it is either a reference cycle (a list appended to
/// itself through the memo) or a hostile file, since torch checkpoints nest about 6 levels
/// (checkpoint → optimizer → state → parameter → dict → tensor). It also bounds the recursion
/// of everything that walks a [`PickleValue`] later (freezing, `Debug`, `Clone`, `Drop`).
const MAX_DEPTH: usize = 256;

/// Bytes of frozen tree allowed per byte of pickle. Memo references let 2 bytes of pickle
/// repeat a whole subtree, so without a cap a 1 KiB pickle could expand to terabytes
/// ("billion laughs"). Real pickles cannot come close: the most a single opcode makes is a
/// node of `size_of::<PickleValue>()` (144 bytes) from 1 byte (`None`, an empty list), or a
/// tensor of about 250 bytes from a 2-byte memo reference, and the fixtures (an official
/// OSTrack training checkpoint with optimizer state, an MAE release) freeze to 2-5 bytes per
/// pickle byte.
const FROZEN_BYTES_PER_PICKLE_BYTE: usize = 256;

/// Allowance on top of the ratio above, so that small pickles which legitimately repeat a
/// subtree a few times are never refused.
const FROZEN_SLACK_BYTES: usize = 64 << 20;

/// The largest frozen tree (in bytes, as [`Freezer`] counts them) a pickle of `len` bytes
/// may produce.
fn frozen_size_limit(len: usize) -> usize {
    len.saturating_mul(FROZEN_BYTES_PER_PICKLE_BYTE)
        .saturating_add(FROZEN_SLACK_BYTES)
}

type Shared = Rc<Node>;

enum Node {
    Leaf(PickleValue),
    /// Tuples are immutable in Python, but the cell lets [`Node::clear`] empty them.
    Tuple(RefCell<Vec<Shared>>),
    List(RefCell<Vec<Shared>>),
    Dict(RefCell<DictNode>),
    Object(RefCell<ObjectNode>),
}

/// A dict's items in insertion order, with an index from key to position: Python semantics
/// make a repeated key replace the value in place, and finding it by scanning made a dict of
/// n keys cost n²/2 comparisons (minutes for a few MB of pickle).
#[derive(Default)]
struct DictNode {
    items: Vec<(Shared, Shared)>,
    index: HashMap<DictKey, usize>,
}

impl DictNode {
    fn set(&mut self, key: Shared, value: Shared) {
        // NaN equals nothing, itself included, so it is always a new key (and unindexable).
        if is_nan(&key) {
            self.items.push((key, value));
            return;
        }
        match self.index.get(&DictKey(key.clone())) {
            Some(&at) => self.items[at].1 = value,
            None => {
                self.index.insert(DictKey(key.clone()), self.items.len());
                self.items.push((key, value));
            }
        }
    }
}

/// A dict key hashed and compared as [`same_key`] compares: leaves by value, containers by
/// identity.
struct DictKey(Shared);

impl PartialEq for DictKey {
    fn eq(&self, other: &Self) -> bool {
        same_key(&self.0, &other.0)
    }
}

impl Eq for DictKey {}

impl Hash for DictKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let Node::Leaf(value) = self.0.as_ref() else {
            return Rc::as_ptr(&self.0).hash(state);
        };
        std::mem::discriminant(value).hash(state);
        match value {
            PickleValue::Bool(b) => b.hash(state),
            PickleValue::Int(i) => i.hash(state),
            // 0.0 == -0.0, so both hash alike.
            PickleValue::Float(f) => (f + 0.0).to_bits().hash(state),
            PickleValue::Str(s) => s.hash(state),
            PickleValue::Bytes(b) | PickleValue::BigInt(b) => b.hash(state),
            PickleValue::Global { module, name } => (module, name).hash(state),
            PickleValue::Storage(s) => s.key.hash(state),
            PickleValue::Tensor(t) => (&t.storage.key, t.offset).hash(state),
            _ => {}
        }
    }
}

fn is_nan(node: &Shared) -> bool {
    matches!(node.as_ref(), Node::Leaf(PickleValue::Float(f)) if f.is_nan())
}

struct ObjectNode {
    class: String,
    args: Vec<Shared>,
    state: Option<Shared>,
    dict_items: Vec<(Shared, Shared)>,
    list_items: Vec<Shared>,
}

impl Node {
    /// Drops this node's children. Only called when every container is kept alive by
    /// [`Machine::containers`], so a dropped child is a leaf or an already-emptied
    /// container: nothing recurses.
    fn clear(&self) {
        match self {
            Node::Leaf(_) => {}
            Node::Tuple(items) | Node::List(items) => drop(items.take()),
            Node::Dict(items) => drop(items.take()),
            Node::Object(obj) => {
                let mut obj = obj.borrow_mut();
                drop(std::mem::take(&mut obj.args));
                drop(obj.state.take());
                drop(std::mem::take(&mut obj.dict_items));
                drop(std::mem::take(&mut obj.list_items));
            }
        }
    }
}

/// Runs the pickle program in `data`; errors name the byte offset and opcode.
pub fn unpickle(data: &[u8]) -> Result<PickleValue, String> {
    let mut vm = Machine {
        data,
        pos: 0,
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
        containers: Vec::new(),
    };
    let result = vm.run()?;
    Freezer::new(frozen_size_limit(data.len())).freeze(&result, 0)
}

struct Machine<'a> {
    data: &'a [u8],
    pos: usize,
    stack: Vec<Shared>,
    /// Stack lengths at each MARK.
    marks: Vec<usize>,
    memo: HashMap<u32, Shared>,
    /// Every container the program built, so `Drop` can empty them all (see there).
    containers: Vec<Shared>,
}

impl Drop for Machine<'_> {
    /// Containers can hold each other in cycles (which `Rc` would leak) and can nest
    /// arbitrarily deep with a constant-size stack (memo GET + APPEND), which a recursive
    /// drop would overflow the stack on. Emptying each one while all are still alive breaks
    /// every cycle, and afterwards each container is dropped on its own, with no children.
    fn drop(&mut self) {
        for node in &self.containers {
            node.clear();
        }
    }
}

fn leaf(v: PickleValue) -> Shared {
    Rc::new(Node::Leaf(v))
}

fn tuple(items: Vec<Shared>) -> Shared {
    Rc::new(Node::Tuple(RefCell::new(items)))
}

fn list(items: Vec<Shared>) -> Shared {
    Rc::new(Node::List(RefCell::new(items)))
}

fn dict(pairs: Vec<(Shared, Shared)>) -> Shared {
    let mut dict = DictNode::default();
    for (key, value) in pairs {
        dict.set(key, value);
    }
    Rc::new(Node::Dict(RefCell::new(dict)))
}

impl<'a> Machine<'a> {
    fn run(&mut self) -> Result<Shared, String> {
        loop {
            let at = self.pos;
            let op = self
                .take(1)
                .map_err(|_| format!("byte {at}: pickle ends without STOP"))?[0];
            match self.step(op) {
                Ok(Some(done)) => return Ok(done),
                Ok(None) => {}
                Err(e) => return Err(format!("byte {at}: opcode {}: {e}", opcode_name(op))),
            }
        }
    }

    /// Executes one opcode; returns the final object on STOP.
    fn step(&mut self, op: u8) -> Result<Option<Shared>, String> {
        match op {
            0x80 => {
                let proto = self.take(1)?[0];
                if proto > 5 {
                    return Err(format!("unsupported pickle protocol {proto}"));
                }
            }
            0x95 => {
                self.take(8)?; // FRAME: a length hint only
            }
            b'.' => return self.pop().map(Some),
            b'(' => self.marks.push(self.stack.len()),
            b'0' => {
                self.pop()?;
            }
            b'1' => {
                self.pop_mark()?;
            }
            b'2' => {
                let top = self.stack.last().ok_or("stack is empty")?.clone();
                self.stack.push(top);
            }
            b'N' => self.push_leaf(PickleValue::None),
            0x88 => self.push_leaf(PickleValue::Bool(true)),
            0x89 => self.push_leaf(PickleValue::Bool(false)),
            b'J' => {
                let v = i32::from_le_bytes(self.array()?);
                self.push_leaf(PickleValue::Int(v.into()));
            }
            b'K' => {
                let v = self.take(1)?[0];
                self.push_leaf(PickleValue::Int(v.into()));
            }
            b'M' => {
                let v = u16::from_le_bytes(self.array()?);
                self.push_leaf(PickleValue::Int(v.into()));
            }
            0x8a => {
                let n = self.take(1)?[0] as usize;
                let bytes = self.take(n)?.to_vec();
                self.push_leaf(long_from_le(bytes));
            }
            0x8b => {
                let n = i32::from_le_bytes(self.array()?);
                let n = usize::try_from(n).map_err(|_| "negative length")?;
                let bytes = self.take(n)?.to_vec();
                self.push_leaf(long_from_le(bytes));
            }
            b'I' => {
                let line = self.line()?;
                let v = match line.as_str() {
                    "00" => PickleValue::Bool(false),
                    "01" => PickleValue::Bool(true),
                    s => PickleValue::Int(s.parse().map_err(|_| format!("bad INT {s:?}"))?),
                };
                self.push_leaf(v);
            }
            b'L' => {
                let line = self.line()?;
                let digits = line.trim_end_matches('L');
                let v = digits.parse().map_err(|_| format!("bad LONG {line:?}"))?;
                self.push_leaf(PickleValue::Int(v));
            }
            b'G' => {
                let v = f64::from_be_bytes(self.array()?);
                self.push_leaf(PickleValue::Float(v));
            }
            b'F' => {
                let line = self.line()?;
                let v = line.parse().map_err(|_| format!("bad FLOAT {line:?}"))?;
                self.push_leaf(PickleValue::Float(v));
            }
            b'X' => {
                let n = u32::from_le_bytes(self.array()?) as usize;
                self.push_str(n)?;
            }
            0x8c => {
                let n = self.take(1)?[0] as usize;
                self.push_str(n)?;
            }
            0x8d => {
                let n = self.len_u64()?;
                self.push_str(n)?;
            }
            // Python-2 byte strings: torch.load decodes them as UTF-8 text.
            b'U' => {
                let n = self.take(1)?[0] as usize;
                self.push_str(n)?;
            }
            b'T' => {
                let n = u32::from_le_bytes(self.array()?) as usize;
                self.push_str(n)?;
            }
            b'B' => {
                let n = u32::from_le_bytes(self.array()?) as usize;
                let bytes = self.take(n)?.to_vec();
                self.push_leaf(PickleValue::Bytes(bytes));
            }
            b'C' => {
                let n = self.take(1)?[0] as usize;
                let bytes = self.take(n)?.to_vec();
                self.push_leaf(PickleValue::Bytes(bytes));
            }
            0x8e => {
                let n = self.len_u64()?;
                let bytes = self.take(n)?.to_vec();
                self.push_leaf(PickleValue::Bytes(bytes));
            }
            b'}' => self.push_node(dict(Vec::new())),
            b'd' => {
                let items = self.pop_mark()?;
                let pairs = pairs_of(items)?;
                self.push_node(dict(pairs));
            }
            b']' | 0x8f => self.push_node(list(Vec::new())),
            b'l' | 0x91 => {
                let items = self.pop_mark()?;
                self.push_node(list(items));
            }
            b')' => self.push_node(tuple(Vec::new())),
            b't' => {
                let items = self.pop_mark()?;
                self.push_node(tuple(items));
            }
            0x85..=0x87 => {
                let n = (op - 0x84) as usize;
                let items = self.pop_n(n)?;
                self.push_node(tuple(items));
            }
            b'a' => {
                let item = self.pop()?;
                append(self.top()?, vec![item])?;
            }
            b'e' | 0x90 => {
                let items = self.pop_mark()?;
                append(self.top()?, items)?;
            }
            b's' => {
                let value = self.pop()?;
                let key = self.pop()?;
                set_items(self.top()?, vec![(key, value)])?;
            }
            b'u' => {
                let items = self.pop_mark()?;
                set_items(self.top()?, pairs_of(items)?)?;
            }
            b'c' => {
                let module = self.line()?;
                let name = self.line()?;
                self.push_leaf(PickleValue::Global { module, name });
            }
            0x93 => {
                let name = self.pop()?;
                let module = self.pop()?;
                let (Some(module), Some(name)) = (as_str(&module), as_str(&name)) else {
                    return Err("STACK_GLOBAL needs two strings".into());
                };
                self.push_leaf(PickleValue::Global { module, name });
            }
            b'R' => {
                let args = self.pop()?;
                let callable = self.pop()?;
                let result = call(&callable, tuple_items(&args)?)?;
                self.push_node(result);
            }
            0x81 => {
                let args = self.pop()?;
                let class = self.pop()?;
                let result = call(&class, tuple_items(&args)?)?;
                self.push_node(result);
            }
            0x92 => {
                let _kwargs = self.pop()?;
                let args = self.pop()?;
                let class = self.pop()?;
                let result = call(&class, tuple_items(&args)?)?;
                self.push_node(result);
            }
            b'b' => {
                let state = self.pop()?;
                build(self.top()?, state);
            }
            b'Q' => {
                let pid = self.pop()?;
                let storage = storage_from_persistent_id(&pid)?;
                self.push_leaf(PickleValue::Storage(storage));
            }
            b'q' => {
                let idx = self.take(1)?[0].into();
                self.put(idx)?;
            }
            b'r' => {
                let idx = u32::from_le_bytes(self.array()?);
                self.put(idx)?;
            }
            0x94 => {
                let idx = u32::try_from(self.memo.len()).map_err(|_| "memo overflow")?;
                self.put(idx)?;
            }
            b'p' => {
                let line = self.line()?;
                let idx = line
                    .parse()
                    .map_err(|_| format!("bad PUT index {line:?}"))?;
                self.put(idx)?;
            }
            b'h' => {
                let idx = self.take(1)?[0].into();
                self.get(idx)?;
            }
            b'j' => {
                let idx = u32::from_le_bytes(self.array()?);
                self.get(idx)?;
            }
            b'g' => {
                let line = self.line()?;
                let idx = line
                    .parse()
                    .map_err(|_| format!("bad GET index {line:?}"))?;
                self.get(idx)?;
            }
            _ => return Err("not supported by this reader".into()),
        }
        Ok(None)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.data.len())
            .ok_or_else(|| {
                format!(
                    "needs {n} more bytes but the pickle ends at byte {}",
                    self.data.len()
                )
            })?;
        let bytes = &self.data[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let bytes = self.take(N)?;
        Ok(bytes.try_into().expect("take returned N bytes"))
    }

    fn len_u64(&mut self) -> Result<usize, String> {
        usize::try_from(u64::from_le_bytes(self.array()?))
            .map_err(|_| "length too large".to_string())
    }

    /// A newline-terminated text argument (GLOBAL, PUT, INT, ...).
    fn line(&mut self) -> Result<String, String> {
        let rest = &self.data[self.pos..];
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or("unterminated text argument")?;
        let text = std::str::from_utf8(&rest[..end]).map_err(|_| "text argument is not UTF-8")?;
        self.pos += end + 1;
        Ok(text.to_string())
    }

    fn push_leaf(&mut self, v: PickleValue) {
        self.stack.push(leaf(v));
    }

    /// Pushes a node the program just built; containers are also recorded for `Drop`.
    fn push_node(&mut self, node: Shared) {
        if !matches!(node.as_ref(), Node::Leaf(_)) {
            self.containers.push(node.clone());
        }
        self.stack.push(node);
    }

    fn push_str(&mut self, n: usize) -> Result<(), String> {
        let bytes = self.take(n)?;
        let s = std::str::from_utf8(bytes).map_err(|_| "string is not valid UTF-8")?;
        self.push_leaf(PickleValue::Str(s.to_string()));
        Ok(())
    }

    fn pop(&mut self) -> Result<Shared, String> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            return Err("stack underflow".into());
        }
        Ok(self.stack.pop().expect("checked non-empty"))
    }

    fn pop_n(&mut self, n: usize) -> Result<Vec<Shared>, String> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() < floor + n {
            return Err("stack underflow".into());
        }
        Ok(self.stack.split_off(self.stack.len() - n))
    }

    fn pop_mark(&mut self) -> Result<Vec<Shared>, String> {
        let mark = self.marks.pop().ok_or("no MARK on the stack")?;
        Ok(self.stack.split_off(mark))
    }

    fn top(&self) -> Result<&Shared, String> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            return Err("stack underflow".into());
        }
        Ok(self.stack.last().expect("checked non-empty"))
    }

    fn put(&mut self, idx: u32) -> Result<(), String> {
        let top = self.stack.last().ok_or("stack is empty")?.clone();
        self.memo.insert(idx, top);
        Ok(())
    }

    fn get(&mut self, idx: u32) -> Result<(), String> {
        let v = self
            .memo
            .get(&idx)
            .ok_or_else(|| format!("memo entry {idx} was never stored"))?
            .clone();
        self.stack.push(v);
        Ok(())
    }
}

fn as_str(node: &Shared) -> Option<String> {
    match node.as_ref() {
        Node::Leaf(PickleValue::Str(s)) => Some(s.clone()),
        _ => None,
    }
}

fn as_usize(node: &Shared, what: &str) -> Result<usize, String> {
    match node.as_ref() {
        Node::Leaf(PickleValue::Int(i)) => {
            usize::try_from(*i).map_err(|_| format!("{what} is negative: {i}"))
        }
        _ => Err(format!("{what} is not an integer")),
    }
}

fn tuple_items(node: &Shared) -> Result<Vec<Shared>, String> {
    match node.as_ref() {
        Node::Tuple(items) => Ok(items.borrow().clone()),
        _ => Err("call arguments are not a tuple".into()),
    }
}

fn usize_tuple(node: &Shared, what: &str) -> Result<Vec<usize>, String> {
    match node.as_ref() {
        Node::Tuple(items) => items.borrow().iter().map(|i| as_usize(i, what)).collect(),
        _ => Err(format!("{what} is not a tuple")),
    }
}

fn pairs_of(items: Vec<Shared>) -> Result<Vec<(Shared, Shared)>, String> {
    if !items.len().is_multiple_of(2) {
        return Err("odd number of items for a dict".into());
    }
    let mut it = items.into_iter();
    let mut pairs = Vec::new();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        pairs.push((k, v));
    }
    Ok(pairs)
}

fn long_from_le(bytes: Vec<u8>) -> PickleValue {
    if bytes.is_empty() {
        return PickleValue::Int(0);
    }
    if bytes.len() > 8 {
        return PickleValue::BigInt(bytes);
    }
    let negative = bytes[bytes.len() - 1] & 0x80 != 0;
    let mut buf = if negative { [0xff; 8] } else { [0; 8] };
    buf[..bytes.len()].copy_from_slice(&bytes);
    PickleValue::Int(i64::from_le_bytes(buf))
}

fn append(target: &Shared, items: Vec<Shared>) -> Result<(), String> {
    match target.as_ref() {
        Node::List(list) => list.borrow_mut().extend(items),
        Node::Object(obj) => obj.borrow_mut().list_items.extend(items),
        _ => return Err("APPEND target is not a list".into()),
    }
    Ok(())
}

fn set_items(target: &Shared, pairs: Vec<(Shared, Shared)>) -> Result<(), String> {
    match target.as_ref() {
        Node::Dict(dict) => {
            let mut dict = dict.borrow_mut();
            for (k, v) in pairs {
                dict.set(k, v);
            }
        }
        Node::Object(obj) => obj.borrow_mut().dict_items.extend(pairs),
        _ => return Err("SETITEM target is not a dict".into()),
    }
    Ok(())
}

fn same_key(a: &Shared, b: &Shared) -> bool {
    match (a.as_ref(), b.as_ref()) {
        (Node::Leaf(x), Node::Leaf(y)) => x == y,
        _ => Rc::ptr_eq(a, b),
    }
}

/// BUILD: objects keep their state; attributes set on dicts (torch's `_metadata` on state
/// dicts) carry no tensor data and are dropped.
fn build(target: &Shared, state: Shared) {
    if let Node::Object(obj) = target.as_ref() {
        obj.borrow_mut().state = Some(state);
    }
}

/// REDUCE / NEWOBJ: the few callables torch files need are modelled, everything else
/// becomes an opaque object.
fn call(callable: &Shared, args: Vec<Shared>) -> Result<Shared, String> {
    let Node::Leaf(PickleValue::Global { module, name }) = callable.as_ref() else {
        return Err("call target is not a class or function reference".into());
    };
    match (module.as_str(), name.as_str()) {
        ("collections", "OrderedDict") | ("builtins" | "__builtin__", "dict") => {
            let dict = dict(Vec::new());
            if let Some(init) = args.first() {
                let pairs = match init.as_ref() {
                    Node::List(items) | Node::Tuple(items) => items.borrow().clone(),
                    _ => return Err("OrderedDict argument is not a list of pairs".into()),
                };
                let pairs = pairs
                    .iter()
                    .map(|p| match tuple_items(p)?.as_slice() {
                        [k, v] => Ok((k.clone(), v.clone())),
                        _ => Err("OrderedDict item is not a (key, value) pair".to_string()),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                set_items(&dict, pairs)?;
            }
            Ok(dict)
        }
        ("torch._utils", "_rebuild_tensor_v2" | "_rebuild_tensor") => {
            rebuild_tensor(&args).map(leaf)
        }
        ("torch._utils", "_rebuild_parameter" | "_rebuild_parameter_with_state") => args
            .first()
            .cloned()
            .ok_or_else(|| "_rebuild_parameter without data".into()),
        ("_codecs", "encode") => match args.as_slice() {
            [text, ..] => {
                let text = as_str(text).ok_or("_codecs.encode of a non-string")?;
                // Python 2 bytes pickled by Python 3 are latin-1 text: one char per byte.
                let bytes = text
                    .chars()
                    .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
                    .collect();
                Ok(leaf(PickleValue::Bytes(bytes)))
            }
            _ => Err("_codecs.encode without arguments".into()),
        },
        _ => Ok(Rc::new(Node::Object(RefCell::new(ObjectNode {
            class: format!("{module}.{name}"),
            args,
            state: None,
            dict_items: Vec::new(),
            list_items: Vec::new(),
        })))),
    }
}

/// `_rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, hooks[, metadata])`.
fn rebuild_tensor(args: &[Shared]) -> Result<PickleValue, String> {
    let [storage, offset, size, stride, ..] = args else {
        return Err(format!(
            "_rebuild_tensor_v2 expects at least 4 arguments, got {}",
            args.len()
        ));
    };
    let Node::Leaf(PickleValue::Storage(storage)) = storage.as_ref() else {
        return Err("_rebuild_tensor_v2: first argument is not a storage".into());
    };
    let shape = usize_tuple(size, "tensor size")?;
    let stride = usize_tuple(stride, "tensor stride")?;
    if shape.len() != stride.len() {
        return Err(format!(
            "tensor size {shape:?} and stride {stride:?} differ in rank"
        ));
    }
    Ok(PickleValue::Tensor(TensorRef {
        storage: storage.clone(),
        offset: as_usize(offset, "storage offset")?,
        shape,
        stride,
    }))
}

/// torch's persistent id: `('storage', <storage class>, key, location, numel)`.
fn storage_from_persistent_id(pid: &Shared) -> Result<StorageRef, String> {
    let items = tuple_items(pid).map_err(|_| "persistent id is not a tuple".to_string())?;
    let [kind, class, key, location, numel] = items.as_slice() else {
        return Err(format!(
            "persistent id has {} fields, expected 5",
            items.len()
        ));
    };
    if as_str(kind).as_deref() != Some("storage") {
        return Err("persistent id is not a storage reference".into());
    }
    let Node::Leaf(PickleValue::Global { name, .. }) = class.as_ref() else {
        return Err("storage type is not a class reference".into());
    };
    Ok(StorageRef {
        key: as_str(key).ok_or("storage key is not a string")?,
        storage_type: name.clone(),
        dtype: DType::from_torch_storage(name),
        location: as_str(location).ok_or("storage location is not a string")?,
        numel: as_usize(numel, "storage size")?,
    })
}

/// Turns the shared graph into a plain tree. Shared subtrees are copied, so the tree can be
/// far larger than the pickle: every node is charged against a byte budget.
struct Freezer {
    limit: usize,
    left: usize,
}

impl Freezer {
    fn new(limit: usize) -> Self {
        Freezer { limit, left: limit }
    }

    fn charge(&mut self, bytes: usize) -> Result<(), String> {
        self.left = self.left.checked_sub(bytes).ok_or_else(|| {
            format!(
                "the object tree expands to more than {} bytes (repeated memo references?); \
                 at most {FROZEN_BYTES_PER_PICKLE_BYTE} bytes per pickle byte are allowed",
                self.limit
            )
        })?;
        Ok(())
    }

    fn freeze(&mut self, node: &Shared, depth: usize) -> Result<PickleValue, String> {
        if depth > MAX_DEPTH {
            return Err(format!(
                "object nesting deeper than {MAX_DEPTH} (a reference cycle?)"
            ));
        }
        self.charge(size_of::<PickleValue>())?;
        Ok(match node.as_ref() {
            Node::Leaf(v) => {
                self.charge(heap_bytes(v))?;
                v.clone()
            }
            Node::Tuple(items) => PickleValue::Tuple(self.all(&items.borrow(), depth)?),
            Node::List(items) => PickleValue::List(self.all(&items.borrow(), depth)?),
            Node::Dict(dict) => PickleValue::Dict(self.pairs(&dict.borrow().items, depth)?),
            Node::Object(obj) => {
                let obj = obj.borrow();
                self.charge(size_of::<OpaqueObject>() + obj.class.len())?;
                PickleValue::Object(Box::new(OpaqueObject {
                    class: obj.class.clone(),
                    args: self.all(&obj.args, depth)?,
                    state: obj
                        .state
                        .as_ref()
                        .map(|s| self.freeze(s, depth + 1))
                        .transpose()?,
                    dict_items: self.pairs(&obj.dict_items, depth)?,
                    list_items: self.all(&obj.list_items, depth)?,
                }))
            }
        })
    }

    fn all(&mut self, items: &[Shared], depth: usize) -> Result<Vec<PickleValue>, String> {
        items.iter().map(|i| self.freeze(i, depth + 1)).collect()
    }

    fn pairs(
        &mut self,
        items: &[(Shared, Shared)],
        depth: usize,
    ) -> Result<Vec<(PickleValue, PickleValue)>, String> {
        items
            .iter()
            .map(|(k, v)| Ok((self.freeze(k, depth + 1)?, self.freeze(v, depth + 1)?)))
            .collect()
    }
}

/// Heap bytes a leaf's clone allocates (its strings, byte buffers and shape vectors).
fn heap_bytes(value: &PickleValue) -> usize {
    let storage = |s: &StorageRef| s.key.len() + s.storage_type.len() + s.location.len();
    match value {
        PickleValue::Str(s) => s.len(),
        PickleValue::Bytes(b) | PickleValue::BigInt(b) => b.len(),
        PickleValue::Global { module, name } => module.len() + name.len(),
        PickleValue::Storage(s) => storage(s),
        PickleValue::Tensor(t) => {
            storage(&t.storage) + (t.shape.len() + t.stride.len()) * size_of::<usize>()
        }
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_nested_containers_and_memo_references() {
        // {'a': [1, 2.5], 'b': 'a'-list again via memo}: the shared list is seen filled.
        let mut p = vec![0x80, 2, b'}', b'q', 0, b'(', b'X'];
        p.extend(1u32.to_le_bytes());
        p.extend(b"a");
        p.extend([b']', b'q', 1, b'K', 1, b'a', b'G']);
        p.extend(2.5f64.to_be_bytes());
        p.extend([b'a', b'X']);
        p.extend(1u32.to_le_bytes());
        p.extend(b"b");
        p.extend([b'h', 1, b'u', b'.']);
        let v = unpickle(&p).unwrap();
        let list = PickleValue::List(vec![PickleValue::Int(1), PickleValue::Float(2.5)]);
        assert_eq!(v.get("a"), Some(&list));
        assert_eq!(v.get("b"), Some(&list));
    }

    #[test]
    fn repeated_dict_keys_replace_in_place_and_nan_keys_never_match() {
        // {'a': 1, 'b': 2, 'a': 3, 0.0: 4, -0.0: 5, nan: 6, nan: 7}
        let mut p = vec![0x80, 2, b'}', b'('];
        for (key, value) in [("a", 1u8), ("b", 2), ("a", 3)] {
            p.extend([b'X', 1, 0, 0, 0, key.as_bytes()[0], b'K', value]);
        }
        for (key, value) in [(0.0f64, 4u8), (-0.0, 5), (f64::NAN, 6), (f64::NAN, 7)] {
            p.push(b'G');
            p.extend(key.to_be_bytes());
            p.extend([b'K', value]);
        }
        p.extend([b'u', b'.']);
        let PickleValue::Dict(items) = unpickle(&p).unwrap() else {
            panic!("expected a dict")
        };
        let values: Vec<&PickleValue> = items.iter().map(|(_, v)| v).collect();
        let ints = [3, 2, 5, 6, 7].map(PickleValue::Int);
        assert_eq!(values, ints.iter().collect::<Vec<_>>());
        assert_eq!(items[0].0, PickleValue::Str("a".into()));
    }

    #[test]
    fn long1_decodes_twos_complement() {
        assert_eq!(long_from_le(vec![0xff]), PickleValue::Int(-1));
        assert_eq!(long_from_le(vec![0x00, 0x01]), PickleValue::Int(256));
        assert_eq!(
            long_from_le(vec![0x00, 0x00, 0x00, 0x80, 0x00]),
            PickleValue::Int(1 << 31)
        );
        assert!(matches!(long_from_le(vec![1; 9]), PickleValue::BigInt(_)));
    }

    #[test]
    fn unknown_classes_become_opaque_objects() {
        let mut p = vec![0x80, 2, b'c'];
        p.extend(b"lib.train.admin.stats\nAverageMeter\n");
        p.extend([b')', 0x81, b'}', b'X']);
        p.extend(3u32.to_le_bytes());
        p.extend(b"avg");
        p.extend([b'K', 7, b's', b'b', b'.']);
        let PickleValue::Object(obj) = unpickle(&p).unwrap() else {
            panic!("expected an object")
        };
        assert_eq!(obj.class, "lib.train.admin.stats.AverageMeter");
        assert_eq!(obj.state.unwrap().get("avg"), Some(&PickleValue::Int(7)));
    }

    #[test]
    fn unknown_opcode_and_truncation_are_reported_with_position() {
        let err = unpickle(&[0x80, 2, b'i']).unwrap_err();
        assert!(err.contains("byte 2") && err.contains("INST"), "{err}");
        let err = unpickle(&[0x80, 2, b'X', 5, 0, 0, 0, b'a']).unwrap_err();
        assert!(
            err.contains("byte 2") && err.contains("more bytes"),
            "{err}"
        );
        let err = unpickle(&[0x80, 2, b'N']).unwrap_err();
        assert!(err.contains("without STOP"), "{err}");
    }
}
