# Values that cross between the answer's process and the checker: plain data only.
#
# A frame is a 4-byte little-endian length and that many bytes. A value is a tag byte and its data;
# only the types below are ever built by `decode`, nothing is evaluated and Julia's Serialization is
# not used (it can carry code). What cannot be encoded travels as a handle (an id the answer's process
# keeps) or, from the checker, fails the call. Both processes include this file; only the checker's
# decoding matters for the verdicts, so limits are enforced there.
module SlingshotWire

import Dates
Base.Experimental.@optlevel 0  # compiled in every sample: latency, not speed, matters

export read_frame, write_frame, encode_value, decode_value, Handle, RemoteName, WireError, error_line, one_line

const MAX_FRAME = 8 << 20   # bytes in one frame
const MAX_ITEMS = 1 << 20   # values in one decoded message
const MAX_DEPTH = 64        # nesting

struct WireError <: Exception
    msg::String
end
Base.showerror(io::IO, e::WireError) = print(io, "WireError: ", e.msg)

"A message as one line of at most 300 characters."
one_line(msg::AbstractString) = replace(first(msg, 300), r"\s+" => " ")

"An error as one line (its type's name if showing it fails)."
function error_line(err)
    one_line(try
        sprint(showerror, err)
    catch
        string(typeof(err))
    end)
end

"A value that stays in the answer's process: its id there and the name of its type."
struct Handle
    id::Int
    type_name::String
end

"A type or function of the answer, named (the checker sends these back as arguments)."
struct RemoteName
    name::Symbol
end

# --- frames ---
function write_frame(io::IO, bytes::Vector{UInt8})
    write(io, htol(UInt32(length(bytes))))
    write(io, bytes)
    flush(io)
end

function read_frame(io::IO)
    n = Int(ltoh(read(io, UInt32)))
    n <= MAX_FRAME || throw(WireError("frame of $n bytes"))
    read!(io, Vector{UInt8}(undef, n))  # read(io, n) waits for more than n bytes on a pipe in 1.5
end

# --- types that may be named on the wire (as element types, keys, or values) ---
const LEAVES = Pair{String,Any}[
    "Any" => Any, "Nothing" => Nothing, "Missing" => Missing, "Bool" => Bool,
    "Int8" => Int8, "Int16" => Int16, "Int32" => Int32, "Int64" => Int64, "Int128" => Int128,
    "UInt8" => UInt8, "UInt16" => UInt16, "UInt32" => UInt32, "UInt64" => UInt64, "UInt128" => UInt128,
    "BigInt" => BigInt, "Float16" => Float16, "Float32" => Float32, "Float64" => Float64,
    "Char" => Char, "String" => String, "SubString" => SubString{String}, "Symbol" => Symbol,
    "AbstractString" => AbstractString, "Number" => Number, "Real" => Real, "Integer" => Integer,
    "AbstractFloat" => AbstractFloat, "Signed" => Signed, "Unsigned" => Unsigned,
    "AbstractChar" => AbstractChar,
    "Date" => Dates.Date, "DateTime" => Dates.DateTime, "Time" => Dates.Time,
    "Year" => Dates.Year, "Month" => Dates.Month, "Week" => Dates.Week, "Day" => Dates.Day,
    "Hour" => Dates.Hour, "Minute" => Dates.Minute, "Second" => Dates.Second,
    "Millisecond" => Dates.Millisecond, "Microsecond" => Dates.Microsecond, "Nanosecond" => Dates.Nanosecond,
    "TimeType" => Dates.TimeType, "Period" => Dates.Period]
const LEAF_TYPE = Dict{String,Any}(LEAVES)
const LEAF_NAME = IdDict{Any,String}(t => n for (n, t) in LEAVES)
const INTS = (Int8, Int16, Int32, Int64, Int128, UInt8, UInt16, UInt32, UInt64, UInt128)
const FLOATS = (Float16, Float32, Float64)
const PERIODS = (Dates.Year, Dates.Month, Dates.Week, Dates.Day, Dates.Hour, Dates.Minute, Dates.Second,
                 Dates.Millisecond, Dates.Microsecond, Dates.Nanosecond)

const ARRAY, DICT, SET, PAIR = Array.body.body.name, Dict.body.body.name, Set.body.name, Pair.body.body.name
const CONTAINERS = (ARRAY, DICT, SET, PAIR)

"True when `T` can be written as a type on the wire."
function type_ok(@nospecialize(T), depth = 0)
    depth > 8 && return false
    haskey(LEAF_NAME, T) && return true
    T isa Union && return type_ok(T.a, depth + 1) && type_ok(T.b, depth + 1)
    T isa DataType || return false
    T <: Tuple && return !Base.isvarargtype(T) && all(p -> type_ok(p, depth + 1), T.parameters)
    T <: NamedTuple && T.parameters[1] isa Tuple && return type_ok(T.parameters[2], depth + 1)
    T.name in CONTAINERS && return all(p -> p isa Int || type_ok(p, depth + 1), T.parameters)
    false
end

function put_str(io::IOBuffer, s::String)
    write(io, htol(UInt32(sizeof(s))))
    write(io, s)
    nothing
end
put_int(io::IOBuffer, n::Int) = (write(io, htol(n)); nothing)
tag(io::IOBuffer, c::Char) = (write(io, UInt8(c)); nothing)
leaf(io::IOBuffer, c::Char, @nospecialize(T)) = (tag(io, c); put_str(io, LEAF_NAME[T]::String))

function encode_type(io::IOBuffer, @nospecialize(T))
    if !type_ok(T)
        tag(io, 'l'); put_str(io, "Any")
    elseif haskey(LEAF_NAME, T)
        leaf(io, 'l', T)
    elseif T isa Union
        tag(io, 'U'); encode_type(io, T.a); encode_type(io, T.b)
    elseif T <: NamedTuple
        tag(io, 'N'); put_int(io, length(T.parameters[1]))
        for n in T.parameters[1]
            put_str(io, string(n))
        end
        encode_type(io, T.parameters[2])
    elseif T <: Tuple
        tag(io, 'T'); put_int(io, length(T.parameters))
        for p in T.parameters
            encode_type(io, p)
        end
    elseif T.name === ARRAY
        tag(io, 'A'); encode_type(io, T.parameters[1]); put_int(io, T.parameters[2]::Int)
    elseif T.name === SET
        tag(io, 'S'); encode_type(io, T.parameters[1])
    else  # Dict or Pair
        tag(io, T.name === DICT ? 'D' : 'P'); encode_type(io, T.parameters[1]); encode_type(io, T.parameters[2])
    end
    nothing
end

# --- encoding (either side); `other(io, x)` writes what is not plain data, or throws ---
function encode_value(@nospecialize(x), @nospecialize(other))
    io = IOBuffer()
    enc(io, x, other, 0)
    take!(io)
end

function enc_all(io::IOBuffer, @nospecialize(items), @nospecialize(other), depth::Int)
    for v in items
        enc(io, v, other, depth)
    end
end

function enc(io::IOBuffer, @nospecialize(x), @nospecialize(other), depth::Int)
    depth > MAX_DEPTH && throw(WireError("value nested deeper than $MAX_DEPTH"))
    d = depth + 1
    T = typeof(x)
    if x === nothing
        tag(io, 'n')
    elseif x === missing
        tag(io, 'm')
    elseif T === Bool
        tag(io, 'b'); write(io, UInt8(x::Bool))
    elseif T in INTS || T === BigInt
        leaf(io, 'i', T); put_str(io, string(x))
    elseif T in FLOATS
        leaf(io, 'f', T); write(io, htol(reinterpret(UInt64, Float64(x))))
    elseif T === Char
        tag(io, 'c'); write(io, htol(reinterpret(UInt32, x::Char)))
    elseif T === SubString{String}
        tag(io, 'u'); put_str(io, String(x))
    elseif x isa AbstractString
        tag(io, 's'); put_str(io, String(x))
    elseif T === Symbol
        tag(io, 'y'); put_str(io, string(x))
    elseif x isa NamedTuple
        tag(io, 'N'); put_int(io, length(x))
        for n in keys(x)
            put_str(io, string(n))
        end
        enc_all(io, values(x), other, d)
    elseif x isa Tuple
        tag(io, 't'); put_int(io, length(x)); enc_all(io, x, other, d)
    elseif x isa Pair
        tag(io, 'p'); enc(io, x.first, other, d); enc(io, x.second, other, d)
    elseif x isa AbstractDict
        tag(io, 'D'); encode_type(io, keytype(x)); encode_type(io, valtype(x)); put_int(io, length(x))
        for (k, v) in x
            enc(io, k, other, d); enc(io, v, other, d)
        end
    elseif x isa AbstractSet
        tag(io, 'S'); encode_type(io, eltype(x)); put_int(io, length(x)); enc_all(io, x, other, d)
    elseif x isa AbstractArray
        tag(io, 'A'); encode_type(io, eltype(x)); put_int(io, ndims(x))
        for n in size(x)
            put_int(io, n)
        end
        enc_all(io, x, other, d)
    elseif T === Dates.Date || T === Dates.DateTime || T === Dates.Time
        leaf(io, 'd', T); put_int(io, Dates.value(x))
    elseif T in PERIODS
        leaf(io, 'q', T); put_int(io, Dates.value(x))
    elseif x isa Type && type_ok(x)
        tag(io, 'Y'); encode_type(io, x)
    else
        other(io, x)
    end
    nothing
end

write_handle(io::IOBuffer, id::Int, type_name::String) = (tag(io, 'H'); put_int(io, id); put_str(io, type_name))
write_name(io::IOBuffer, name::Symbol) = (tag(io, 'R'); put_str(io, string(name)))

# --- decoding: builds only the types above; `handle(id, type_name)` and `name(sym)` map references ---
mutable struct Reader
    io::IOBuffer
    items::Int
    handle::Any
    name::Any
end

function decode_value(bytes::Vector{UInt8}, @nospecialize(handle), @nospecialize(name))
    r = Reader(IOBuffer(bytes), 0, handle, name)
    v = dec(r, 0)
    eof(r.io) || throw(WireError("trailing bytes"))
    v
end

function take(r::Reader, n::Int)
    (0 <= n <= bytesavailable(r.io)) || throw(WireError("truncated value"))
    read(r.io, n)::Vector{UInt8}
end
get_byte(r::Reader) = take(r, 1)[1]
get_int(r::Reader) = ltoh(reinterpret(Int64, take(r, 8))[1])
get_str(r::Reader) = String(take(r, Int(ltoh(reinterpret(UInt32, take(r, 4))[1]))))
function get_count(r::Reader)
    n = get_int(r)
    (0 <= n <= MAX_ITEMS - r.items) || throw(WireError("too many items ($n)"))
    r.items += n
    n
end
function get_leaf(r::Reader, allowed)
    T = get(LEAF_TYPE, get_str(r), nothing)
    T in allowed || throw(WireError("a type that is not allowed here"))
    T
end

function dec_types(r::Reader, depth::Int)
    types = Any[]
    for _ in 1:get_count(r)
        push!(types, dec_type(r, depth + 1))
    end
    types
end

function dec_type(r::Reader, depth::Int)
    depth > 16 && throw(WireError("type nested too deep"))
    t = Char(get_byte(r))
    if t == 'l'
        name = get_str(r)
        haskey(LEAF_TYPE, name) || throw(WireError("type $(repr(first(name, 40))) is not allowed"))
        return LEAF_TYPE[name]
    elseif t == 'U'
        return Union{dec_type(r, depth + 1), dec_type(r, depth + 1)}
    elseif t == 'N'
        names = dec_names(r)
        P = dec_type(r, depth + 1)
        (P isa DataType && P <: Tuple && length(P.parameters) == length(names)) || throw(WireError("bad NamedTuple type"))
        return NamedTuple{names, P}
    elseif t == 'T'
        return Tuple{dec_types(r, depth)...}
    elseif t == 'A'
        E = dec_type(r, depth + 1)
        n = get_int(r)
        1 <= n <= 8 || throw(WireError("array of $n dimensions"))
        return Array{E, n}
    elseif t == 'D'
        return Dict{dec_type(r, depth + 1), dec_type(r, depth + 1)}
    elseif t == 'S'
        return Set{dec_type(r, depth + 1)}
    elseif t == 'P'
        return Pair{dec_type(r, depth + 1), dec_type(r, depth + 1)}
    end
    throw(WireError("unknown type tag $(repr(t))"))
end

function dec_names(r::Reader)
    names = Symbol[]
    for _ in 1:get_count(r)
        push!(names, Symbol(get_str(r)))
    end
    allunique(names) || throw(WireError("repeated NamedTuple field"))
    Tuple(names)
end

function dec_items(r::Reader, depth::Int, n::Int)
    items = Any[]
    for _ in 1:n
        push!(items, dec(r, depth + 1))
    end
    items
end

# One small function per tag, looked up at run time: each is compiled only when first used.
const DECODERS = Dict{Char,Function}(
    'n' => (r, d) -> nothing,
    'm' => (r, d) -> missing,
    'b' => (r, d) -> get_byte(r) != 0x00,
    'i' => (r, d) -> dec_integer(r),
    'f' => (r, d) -> convert(get_leaf(r, FLOATS), reinterpret(Float64, take(r, 8))[1]),
    'c' => (r, d) -> reinterpret(Char, ltoh(reinterpret(UInt32, take(r, 4))[1])),
    's' => (r, d) -> get_str(r),
    'u' => (r, d) -> SubString(get_str(r)),
    'y' => (r, d) -> Symbol(get_str(r)),
    't' => (r, d) -> Tuple(dec_items(r, d, get_count(r))),
    'N' => (r, d) -> (names = dec_names(r); NamedTuple{names}(Tuple(dec_items(r, d, length(names))))),
    'p' => (r, d) -> Pair(dec(r, d + 1), dec(r, d + 1)),
    'D' => (r, d) -> dec_dict(r, d),
    'S' => (r, d) -> dec_set(r, d),
    'A' => (r, d) -> dec_array(r, d),
    'd' => (r, d) -> dec_time(r),
    'q' => (r, d) -> get_leaf(r, PERIODS)(get_int(r)),
    'Y' => (r, d) -> dec_type(r, 0),
    'H' => (r, d) -> r.handle(get_int(r), get_str(r)),
    'R' => (r, d) -> r.name(Symbol(get_str(r))))

function dec(r::Reader, depth::Int)
    depth > MAX_DEPTH && throw(WireError("value nested deeper than $MAX_DEPTH"))
    r.items += 1
    r.items <= MAX_ITEMS || throw(WireError("more than $MAX_ITEMS values"))
    t = Char(get_byte(r))
    haskey(DECODERS, t) || throw(WireError("unknown value tag $(repr(t))"))
    DECODERS[t](r, depth)
end

function dec_integer(r::Reader)
    T = get_leaf(r, (INTS..., BigInt))
    text = get_str(r)
    sizeof(text) <= 4000 || throw(WireError("integer of $(sizeof(text)) digits"))
    parse(T, text)
end

function dec_dict(r::Reader, depth::Int)
    dict = Dict{dec_type(r, 0), dec_type(r, 0)}()
    for _ in 1:get_count(r)
        k = dec(r, depth + 1)
        dict[k] = dec(r, depth + 1)
    end
    dict
end

function dec_set(r::Reader, depth::Int)
    set = Set{dec_type(r, 0)}()
    for _ in 1:get_count(r)
        push!(set, dec(r, depth + 1))
    end
    set
end

function dec_array(r::Reader, depth::Int)
    E = dec_type(r, 0)
    n = get_int(r)
    1 <= n <= 8 || throw(WireError("array of $n dimensions"))
    dims = Int[get_int(r) for _ in 1:n]
    (all(x -> 0 <= x <= MAX_ITEMS, dims) && prod(dims) <= MAX_ITEMS - r.items) || throw(WireError("array too large"))
    a = Array{E}(undef, dims...)
    for i in eachindex(a)
        a[i] = dec(r, depth + 1)
    end
    a
end

function dec_time(r::Reader)
    T = get_leaf(r, (Dates.Date, Dates.DateTime, Dates.Time))
    v = get_int(r)
    T === Dates.Date && return Dates.Date(Dates.UTD(v))
    T === Dates.DateTime && return Dates.DateTime(Dates.UTM(v))
    Dates.Time(Dates.Nanosecond(v))
end

end # module
