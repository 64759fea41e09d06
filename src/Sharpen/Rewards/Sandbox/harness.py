"""The Python side of Sharpen's code sandbox (docs/sandbox.md). One file, three roles, named by argv[1]:

program   runs /sandbox/solution.py as __main__ on the sandbox's stdin and stdout (a stdin/stdout test).
solution  runs /sandbox/solution.py, then answers requests from a checker about its values (an assert test).
checker   runs /sandbox/test.py (an assert test) in a sandbox of its own, reaching the solution only through
          requests, and exits with the verdict. The test and its expected values never leave this process.

Solution and checker talk in JSON lines over their stdin and stdout (the host relays them; the solution's own
prints go to its stderr). Only plain data crosses: None, bool, int, float, complex, str, bytes, bytearray, list,
tuple, dict, set, frozenset (subclasses arrive as their base type). Any other value stays in the solution, and the
checker holds a Remote for it: it can be called, asked for attributes and items, iterated, and asked for bool, len
and str, but it equals nothing except itself (and `in` iterates it here). So the solution decides what its
functions return, and nothing else: whether a returned value equals the expected one is decided here, by the
built-in types.
"""
import builtins
import json
import os
import sys
import traceback

COMPILE_ERROR = 97                                     # the program or the test is not valid Python
PASSED, FAILED, RAISED, MEMORY, TOO_LONG, CLOSED = 0, 1, 2, 3, 4, 5   # the checker's exit statuses


def read(name):
    with open('/sandbox/' + name, encoding='utf-8') as f:
        return f.read()


def compile_or_exit(source, name, mode='exec'):
    try:
        return compile(source, name, mode)
    except (SyntaxError, ValueError) as e:
        print(f'{type(e).__name__}: {e}', file=sys.stderr)
        sys.stderr.flush()
        os._exit(COMPILE_ERROR)


# ---- plain data -------------------------------------------------------------------------------------------------

class TooBig(Exception):
    """A value with more items than a budget allows."""


def encode(value, ref, budget=None):
    """value as JSON-ready data; ref(obj) numbers a value that is not plain data. Types are read with type(), so an
    object that lies about its __class__ is not taken for what it claims. budget, a one-item list, is the number of
    items (a string or bytes counts one per 64 characters) left before TooBig is raised; None is no budget."""
    if budget is not None:
        budget[0] -= 1 + (len(value) // 64 if type(value) in (str, bytes) else 0)
        if budget[0] < 0:
            raise TooBig
    t = type(value)
    if value is None or t is bool:
        return value
    if issubclass(t, int):
        return int.__int__(value)
    if issubclass(t, float):
        return float.__float__(value)
    if issubclass(t, str):
        return str.__str__(value)
    if issubclass(t, complex):
        return {'complex': [complex.real.__get__(value), complex.imag.__get__(value)]}
    if issubclass(t, bytes):
        return {'bytes': bytes.hex(value)}
    if issubclass(t, bytearray):
        return {'bytearray': bytearray.hex(value)}
    if issubclass(t, list):
        return [encode(v, ref, budget) for v in list.__iter__(value)]
    if issubclass(t, tuple):
        return {'tuple': [encode(v, ref, budget) for v in tuple.__iter__(value)]}
    if issubclass(t, dict):
        return {'dict': [[encode(k, ref, budget), encode(v, ref, budget)] for k, v in dict.items(value)]}
    if issubclass(t, frozenset):
        return {'frozenset': [encode(v, ref, budget) for v in frozenset.__iter__(value)]}
    if issubclass(t, set):
        return {'set': [encode(v, ref, budget) for v in set.__iter__(value)]}
    return {'ref': ref(value)}


def encode_or_ref(value, ref, items=None):
    """encode, but a value too deep (or cyclic) to send whole, or with more than items items, stays behind as one
    reference."""
    try:
        return encode(value, ref, None if items is None else [items])
    except (RecursionError, TooBig):
        return {'ref': ref(value)}


def decode(data, remote):
    """JSON data as fresh built-in values; remote(n) stands for reference n. Raises ValueError on anything else."""
    t = type(data)
    if data is None or t in (bool, int, float, str):
        return data
    if t is list:
        return [decode(v, remote) for v in data]
    if t is dict and len(data) == 1:
        (tag, body), = data.items()
        if tag == 'ref' and type(body) is int:
            return remote(body)
        if tag in ('bytes', 'bytearray') and type(body) is str:
            return bytes.fromhex(body) if tag == 'bytes' else bytearray.fromhex(body)
        if tag == 'complex' and type(body) is list and len(body) == 2 and all(type(x) in (int, float) for x in body):
            return complex(body[0], body[1])
        if type(body) is list:
            if tag == 'tuple':
                return tuple(decode(v, remote) for v in body)
            if tag == 'set':
                return {decode(v, remote) for v in body}
            if tag == 'frozenset':
                return frozenset(decode(v, remote) for v in body)
            if tag == 'dict' and all(type(p) is list and len(p) == 2 for p in body):
                return {decode(k, remote): decode(v, remote) for k, v in body}
    raise ValueError(f'not plain data: {str(data)[:100]}')


class Channel:
    """JSON lines over this process's stdin and stdout, which are moved away first: afterwards fd 0 reads /dev/null
    and fd 1 writes to stderr, so the code run here cannot mix its own reads and prints into the channel."""

    def __init__(self, limit=None):
        self.reader = os.fdopen(os.dup(0), 'rb')
        self.writer = os.fdopen(os.dup(1), 'wb')
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        os.dup2(2, 1)
        self.limit = limit

    def send(self, message):
        self.writer.write(json.dumps(message, separators=(',', ':')).encode() + b'\n')
        self.writer.flush()

    def receive(self):
        """The next message, or None at the end of the channel. Raises TooLong past the limit, Broken on bad JSON."""
        line = self.reader.readline(-1 if self.limit is None else self.limit + 1)
        if self.limit is not None and len(line) > self.limit:
            raise TooLong(f'a reply of more than {self.limit} bytes')
        if not line.endswith(b'\n'):
            return None
        try:
            return json.loads(line)
        except (ValueError, RecursionError) as e:
            raise Broken(f'a reply that is not JSON: {e}') from None


class Broken(BaseException):
    """The solution ended or broke the protocol. A BaseException, so that the test's own `except Exception` cannot
    swallow it; once raised, the checker's verdict is CLOSED whatever the test does with it."""


class TooLong(Broken):
    """A reply longer than the output limit."""


# ---- program role -----------------------------------------------------------------------------------------------

def program():
    code = compile_or_exit(read('solution.py'), 'solution.py')
    exec(code, {'__name__': '__main__', '__builtins__': builtins})


# ---- solution role ----------------------------------------------------------------------------------------------

class Objects:
    """The solution's values the checker holds references to (kept alive, so that id() stays unique)."""

    def __init__(self):
        self.values, self.refs, self.pending = [], {}, {}

    def ref(self, value):
        n = self.refs.get(id(value))
        if n is None:
            n = self.refs[id(value)] = len(self.values)
            self.values.append(value)
        return n

    def encode(self, value, items=None):
        return encode_or_ref(value, self.ref, items)

    def decode(self, data):
        return decode(data, lambda n: self.values[n])

    def answer(self, request):
        try:
            op, target = request['op'], self.values[request['ref']]
            if op == 'call':
                return self.call(target, request['args'], request['kwargs'])
            if op == 'getattr':
                value = getattr(target, request['name'])
            elif op == 'iter':
                value = iter(target)
            elif op == 'next':
                return self.next(request['ref'], target, request['count'])
            elif op == 'bool':
                value = bool(target)
            elif op == 'len':
                value = len(target)
            elif op == 'getitem':
                value = target[self.decode(request['key'])]
            elif op == 'str':
                value = str(target)
            else:
                raise ValueError(f'unknown request {op!r}')
            return {'value': self.encode(value)}
        except BaseException as e:   # the solution's exception (SystemExit included) is the call's answer
            try:
                message = str(e)
            except BaseException:
                message = ''
            return {'raised': type(e).__name__, 'message': message}

    def next(self, ref, iterator, count):
        """Up to count items, and whether the iterator is done. An exception raised after the first item is kept
        for the next request."""
        if ref in self.pending:
            raise self.pending.pop(ref)
        items = []
        try:
            while len(items) < max(1, min(count, 1024)):
                items.append(next(iterator))
        except StopIteration:
            return {'value': self.encode(items), 'stop': True}
        except BaseException as e:
            if not items:
                raise
            self.pending[ref] = e
        return {'value': self.encode(items)}

    def call(self, target, args, kwargs):
        args = [self.decode(a) for a in args]
        kwargs = {k: self.decode(v) for k, v in kwargs}
        # Lists, dicts and sets passed in go back after the call when it changed them (sort_in_place(a)).
        mutable = [(i, a) for i, a in enumerate(args) if type(a) in (list, dict, set)]
        mutable += [(k, a) for k, a in kwargs.items() if type(a) in (list, dict, set)]
        before = [json.dumps(self.encode(a)) for _, a in mutable]
        reply = {'value': self.encode(target(*args, **kwargs))}
        changed = [[key, data] for (key, a), old in zip(mutable, before) if json.dumps(data := self.encode(a)) != old]
        if changed:
            reply['mutated'] = changed
        return reply


def solution():
    channel = Channel()
    code = compile_or_exit(read('solution.py'), 'solution.py')
    scope = {'__name__': '__main__', '__builtins__': builtins}
    try:
        exec(code, scope)
    except SystemExit as e:   # exit(0) ends the program, not its tests
        if e.code not in (None, 0):
            raise
    objects = Objects()
    # A large global (a precomputed table) is sent as a reference: the checker needs it only if the test reads it.
    names = [[name, 'module', None] if isinstance(value, type(sys)) else [name, 'value', objects.encode(value, 1000)]
             for name, value in list(scope.items()) if type(name) is str and not name.startswith('__')]
    channel.send({'names': names})
    while (request := channel.receive()) is not None:
        channel.send(objects.answer(request))


# ---- checker role -----------------------------------------------------------------------------------------------

class RemoteError(Exception):
    """An exception the solution raised that is not a built-in Exception class (its own, or SystemExit)."""


class Remote:
    """A value of the solution that is not plain data. Equal only to itself: comparisons never reach the solution."""
    __slots__ = ('__ref', '__link')

    def __init__(self, ref, link):
        self.__ref, self.__link = ref, link

    def __getattr__(self, name):
        if name.startswith('__') and name.endswith('__'):
            raise AttributeError(name)
        return self.__link.ask({'op': 'getattr', 'ref': self.__ref, 'name': name})

    def __call__(self, *args, **kwargs):
        return self.__link.call(self.__ref, args, kwargs)

    def __iter__(self):
        return self.__link.ask({'op': 'iter', 'ref': self.__ref})

    def __next__(self):
        return self.__link.next(self.__ref)

    def __bool__(self):
        return self.__link.ask({'op': 'bool', 'ref': self.__ref})

    def __len__(self):
        return self.__link.ask({'op': 'len', 'ref': self.__ref})

    def __getitem__(self, key):
        return self.__link.ask({'op': 'getitem', 'ref': self.__ref, 'key': self.__link.encode(key)})

    def __str__(self):
        return self.__link.ask({'op': 'str', 'ref': self.__ref})

    def __repr__(self):
        return f'<solution object {self.__ref}>'


class Link:
    """The checker's end of the channel: sends requests, turns replies into plain values, Remotes or exceptions."""

    def __init__(self, channel):
        self.channel, self.remotes, self.broken = channel, {}, None
        self.buffers, self.batches, self.exhausted = {}, {}, set()

    def remote(self, ref):
        if ref not in self.remotes:
            self.remotes[ref] = Remote(ref, self)
        return self.remotes[ref]

    def fail(self, error):
        self.broken = self.broken or error
        raise self.broken

    def receive(self):
        if self.broken:
            raise self.broken
        try:
            message = self.channel.receive()
        except Broken as e:
            self.fail(e)
        if type(message) is not dict:
            self.fail(Broken('the solution ended' if message is None else 'a reply that is not an object'))
        return message

    def decode(self, data):
        try:
            return decode(data, self.remote)
        except MemoryError:
            raise
        except Exception as e:
            self.fail(Broken(f'a reply that is not plain data: {e}'))

    def encode(self, value):
        def refuse(v):
            if type(v) is Remote:
                return object.__getattribute__(v, '_Remote__ref')
            raise TypeError(f'only plain data and the solution\'s values can be passed to it, not {type(v).__name__}')
        return encode(value, refuse)

    def request(self, request):
        """The reply to request, with its value decoded; the solution's exception is raised here."""
        self.channel.send(request)
        reply = self.receive()
        if 'raised' in reply:
            raise self.error(reply)
        if 'value' not in reply:
            self.fail(Broken('a reply without a value'))
        return reply, self.decode(reply['value'])

    def ask(self, request):
        return self.request(request)[1]

    def next(self, ref):
        """The next item of the solution's iterator ref, fetched in batches (1, 2, 4, … up to 1024 a request)."""
        buffer = self.buffers.setdefault(ref, [])
        if not buffer and ref not in self.exhausted:
            count = self.batches[ref] = min(2 * self.batches.get(ref, 0) or 1, 1024)
            reply, items = self.request({'op': 'next', 'ref': ref, 'count': count})
            if type(items) is not list or len(items) > count:
                self.fail(Broken('a reply that is not a list of items'))
            buffer.extend(reversed(items))
            if reply.get('stop') is True:
                self.exhausted.add(ref)
        if not buffer:
            raise StopIteration
        return buffer.pop()

    def call(self, ref, args, kwargs):
        request = {'op': 'call', 'ref': ref, 'args': [self.encode(a) for a in args],
                   'kwargs': [[k, self.encode(v)] for k, v in kwargs.items()]}
        reply, value = self.request(request)
        for key, data in reply.get('mutated', []):
            original = args[key] if type(key) is int and 0 <= key < len(args) else kwargs.get(key)
            self.write_back(original, self.decode(data))
        return value

    @staticmethod
    def write_back(original, new):
        if type(original) is not type(new):
            return
        if type(new) is list:
            original[:] = new
        elif type(new) in (dict, set):
            original.clear()
            original.update(new)

    def error(self, reply):
        name, message = reply.get('raised'), reply.get('message')
        if type(name) is not str or type(message) is not str:
            self.fail(Broken('a malformed exception'))
        cls = getattr(builtins, name, None) if name.isidentifier() else None
        if isinstance(cls, type) and issubclass(cls, Exception):
            try:
                return cls(message)
            except Exception:
                pass
        return RemoteError(f'{name}: {message}')

    def names(self):
        """The solution's top-level names as the test sees them: a name that is a built-in or a standard-library
        module (math, re, …) means the real one, whatever the solution bound to it; other modules are left out.
        Module `solution` holds the solution's names, built-in ones included (asked for by name, they are its own)."""
        message = self.receive()
        if type(message.get('names')) is not list:
            self.fail(Broken('no list of names'))
        scope = {'__name__': '__main__', '__builtins__': builtins}
        module = sys.modules['solution'] = type(sys)('solution')   # for tests that say `from solution import f`
        for entry in message['names']:
            if type(entry) is not list or len(entry) != 3 or type(entry[0]) is not str:
                self.fail(Broken('a malformed name'))
            name, kind, data = entry
            if not name.isidentifier() or name.startswith('__'):
                continue
            if name in sys.stdlib_module_names and name not in ('antigravity', 'this'):   # no side effects
                try:
                    scope[name] = __import__(name)
                except ImportError:
                    pass
            elif kind == 'value':
                setattr(module, name, self.decode(data))
                if not hasattr(builtins, name):
                    scope[name] = getattr(module, name)
        return scope


def checker(limit):
    source = read('test.py')
    try:
        code, expression = compile(source, 'test.py', 'eval'), True
    except (SyntaxError, ValueError):
        code, expression = compile_or_exit(source, 'test.py'), False
    link = Link(Channel(limit))
    status = run_test(link, code, expression, source)
    if link.broken:
        print(f'checker: {link.broken}', file=sys.stderr)
        status = TOO_LONG if isinstance(link.broken, TooLong) else CLOSED
    sys.stderr.flush()
    os._exit(status)


def run_test(link, code, expression, source):
    try:
        scope = link.names()
        if expression:
            value = eval(code, scope)
            if value is not None and not value:
                raise AssertionError(source.strip())
        else:
            exec(code, scope)
        return PASSED
    except Broken:
        return CLOSED
    except AssertionError:
        traceback.print_exc()
        return FAILED
    except SystemExit:
        print('checker: the test exited before its end', file=sys.stderr)
        return FAILED
    except MemoryError:
        traceback.print_exc()
        return MEMORY
    except BaseException:
        traceback.print_exc()
        return RAISED


if __name__ == '__main__':
    role = sys.argv[1]
    sys.set_int_max_str_digits(0)
    if role == 'checker':
        checker(int(sys.argv[2]))
    else:
        builtins.exit = builtins.quit = sys.exit
        sys.argv = ['solution.py']
        solution() if role == 'solution' else program()
