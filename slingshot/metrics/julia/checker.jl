# The checker of the slingshot Julia scorer: runs a case's examples and unit tests with Test's
# macros and reports which pass. No code of the answer runs here: every name the answer defines is
# bound to a proxy that sends the call to the answer's process (driver.jl, through score.py) and
# decodes the reply with wire.jl, which builds plain data only. A value that is not plain data stays
# in the answer's process as a handle; a handle equals nothing but itself.
#
# Usage: julia checker.jl WIRE_FILE JOB_FILE. Frames out (on stdout): text READY, X <kind> <i> <0|1>,
# M <step> <message>, DONE, and C<request> for a call. Frames in (on stdin): B <name>:<f|t> ...
# (what the answer defined), then V<reply> for each call.
include(ARGS[1])

module SlingshotChecker

using ..SlingshotWire
import Test

const OUT = Ref{IO}()
const IN = Ref{IO}()
const BROKEN = Ref(false)     # a reply that did not decode: the step fails whatever the snippet did
const SNIPPETS = Ref{Module}()
const PROXIES = IdDict{Any,Symbol}()  # proxy function => the answer's name
const REMOTE = Set{Symbol}()
const THROWN = Ref{Any}(nothing)  # the last exception rebuilt from a reply, and the answer's message for it
const THROWN_MESSAGE = Ref("")

"A value kept in the answer's process."
struct RemoteRef
    id::Int
    type_name::String
end

"A type the answer defined: calling it builds a value in the answer's process."
struct RemoteType
    name::Symbol
end

"An exception of the answer's code whose type is not one of Base's."
struct RemoteException <: Exception
    type_name::String
    msg::String
end
Base.showerror(io::IO, e::RemoteException) = print(io, "the answer threw: ", e.msg)

emit(parts...) = write_frame(OUT[], Vector{UInt8}(join(parts, ' ')))

note(step, err) = emit("M", step, err === THROWN[] ? one_line(THROWN_MESSAGE[]) : error_line(err))

send_other(io, x::RemoteRef) = SlingshotWire.write_handle(io, getfield(x, :id), "")
send_other(io, x::RemoteType) = SlingshotWire.write_name(io, x.name)
send_other(io, x::RemoteName) = SlingshotWire.write_name(io, x.name)
function send_other(io, x)
    haskey(PROXIES, x) && return SlingshotWire.write_name(io, PROXIES[x])
    throw(WireError("a $(typeof(x)) cannot be passed to the answer's code"))
end

no_names(sym) = throw(WireError("the answer's process sent a name"))

"Send one request to the answer's process; its reply as plain data, or the exception it reported."
function remote(req...)
    write_frame(OUT[], vcat(UInt8('C'), encode_value(req, send_other)))
    reply = read_frame(IN[])
    value = try
        (isempty(reply) || reply[1] != UInt8('V')) && throw(WireError("not a reply"))
        decode_value(reply[2:end], (id, t) -> RemoteRef(id, t), no_names)
    catch err
        BROKEN[] = true
        rethrow()
    end
    value isa Tuple && length(value) == 2 && value[1] === :ok && return value[2]
    if value isa Tuple && length(value) == 3 && value[1] === :error && value[2] isa String && value[3] isa String
        THROWN[], THROWN_MESSAGE[] = rebuild_exception(value[2], value[3]), value[3]
        throw(THROWN[])
    end
    BROKEN[] = true
    throw(WireError("malformed reply"))
end

"Base's exception types by name, so @test_throws sees the type an honest answer threw."
function rebuild_exception(type_name, msg)
    builders = Dict{String,Function}(
        "ErrorException" => () -> ErrorException(msg), "ArgumentError" => () -> ArgumentError(msg),
        "DomainError" => () -> DomainError(nothing, msg), "BoundsError" => () -> BoundsError(),
        "KeyError" => () -> KeyError(msg), "MethodError" => () -> MethodError(nothing, ()),
        "InexactError" => () -> InexactError(:remote, Any, msg), "OverflowError" => () -> OverflowError(msg),
        "DivideError" => () -> DivideError(), "DimensionMismatch" => () -> DimensionMismatch(msg),
        "AssertionError" => () -> AssertionError(msg), "UndefVarError" => () -> UndefVarError(:remote),
        "TypeError" => () -> TypeError(:remote, msg, Any, nothing), "EOFError" => () -> EOFError(),
        "StringIndexError" => () -> StringIndexError("", 0), "UndefKeywordError" => () -> UndefKeywordError(:remote),
        "InvalidStateException" => () -> InvalidStateException(msg, :remote))
    haskey(builders, type_name) ? builders[type_name]() : RemoteException(type_name, msg)
end

(t::RemoteType)(args...; kw...) = remote(:call, RemoteName(t.name), args, values(kw))
call_remote(name::Symbol, args, kw) = remote(:call, RemoteName(name), args, values(kw))

function remote_text(how, r)
    text = remote(:show, how, r)
    text isa String || throw(WireError("show did not give a String"))
    text
end
Base.show(io::IO, r::RemoteRef) = print(io, remote_text(:show, r))
Base.show(io::IO, ::MIME"text/plain", r::RemoteRef) = print(io, remote_text(:plain, r))
Base.print(io::IO, r::RemoteRef) = print(io, remote_text(:print, r))
Base.getproperty(r::RemoteRef, s::Symbol) = remote(:getproperty, r, s)

"Bind the answer's names in the snippets' module; names the snippets already see (Base, Test,
the case's imports) are never shadowed, so the answer cannot redefine `==` or `@test` for them.
A type of the answer becomes a RemoteType: it can be called, and subtyped by a snippet's struct
(made in the answer's process), but `isa` and `typeof` comparisons with it do not hold here."
function bind_names(text::AbstractString)
    mod = SNIPPETS[]
    for item in Iterators.take(split(text), 2000)
        name, _, kind = rpartition(item)
        sym = Symbol(name)
        (Base.isidentifier(name) && kind in ("f", "t") && !isdefined(mod, sym)) || continue
        if kind == "f"
            f = Core.eval(mod, :(function $sym(args...; kw...)
                                     $(GlobalRef(SlingshotChecker, :call_remote))($(QuoteNode(sym)), args, kw)
                                 end))
            PROXIES[f] = sym
        else
            Core.eval(mod, :(const $sym = $(RemoteType(sym))))
        end
        push!(REMOTE, sym)
    end
end
rpartition(s) = (i = findlast(':', s); i === nothing ? (s, "", "") : (s[1:i-1], ":", s[i+1:end]))

"A type definition that builds on the answer's types is made in the answer's process."
function define_remote(code::String)
    added = remote(:define, code)
    added isa Vector || throw(WireError("definition reply is not a list"))
    bind_names(join(("$(n):$(k)" for (n, k) in added if n isa String && k isa String), ' '))
    nothing
end

mentions_remote(x) = x isa Symbol ? x in REMOTE : x isa Expr && any(mentions_remote, x.args)

"Each top-level expression of a snippet: Test's own macros, answer-based types made remotely."
function prepare(ex)
    if ex isa Expr && ex.head in (:struct, :abstract, :primitive) && mentions_remote(ex)
        return :($(GlobalRef(SlingshotChecker, :define_remote))($(string(ex))))
    end
    ex
end

"Run one example or unit test; true when nothing throws and every reply was well formed."
function run_snippet(snippet, setup, teardown, job, step)
    joined = string(setup, "\n\n", snippet, "\n\n", teardown)
    BROKEN[] = false
    mod = SNIPPETS[]
    ok = try
        if job.snippet_quoting == "none"
            include_string(prepare, mod, joined, "__code_string_eval_additive")
        else  # the harness pasted the snippet into a """...""" literal
            escaped = escape_string(joined, job.snippet_quoting == "dollar" ? "\$" : "\"\$")
            text = "include_string(identity, $(mod),\"\"\"$(escaped)\"\"\", \"__code_string_eval_additive\")\n"
            ex = Base.parse_input_line(text; filename = "__code_string_eval")
            ex = Meta.isexpr(ex, :toplevel) ? ex.args[end] : ex
            Meta.isexpr(ex, :call) && (ex.args[2] = prepare)
            Core.eval(mod, ex)
        end
        true
    catch e
        note(step, e isa LoadError ? e.error : e)
        false
    end
    ok && !BROKEN[]
end

function main(job)
    SNIPPETS[] = Core.eval(Main, Base.parse_input_line(
        "module Snippets\nusing Test\n$(job.prefix)\nend"; filename = "__code_string_eval"))
    emit("READY")
    names = read_frame(IN[])
    (isempty(names) || names[1] != UInt8('B')) && error("expected the answer's names")
    bind_names(String(names[2:end]))
    first_example = job.start == "examples" ? job.start_index : (job.start == "tests" ? typemax(Int) : 1)
    first_test = job.start == "tests" ? job.start_index : 1
    for (i, ex) in enumerate(job.examples)
        i < first_example && continue
        emit("X", "example", i, Int(run_snippet(ex, job.examples_setup, job.examples_teardown, job, "example$i")))
    end
    for (i, t) in enumerate(job.unit_tests)
        i < first_test && continue
        emit("X", "test", i, Int(run_snippet(t, job.unit_tests_setup, job.unit_tests_teardown, job, "test$i")))
    end
    emit("DONE")
end

end # module

include(ARGS[2])
let input = Base.fdio(ccall(:dup, Cint, (Cint,), 0), true), output = Base.fdio(ccall(:dup, Cint, (Cint,), 1), true)
    SlingshotChecker.IN[], SlingshotChecker.OUT[] = input, output
    sink = open("/dev/null", "w")
    redirect_stdin(open("/dev/null"))
    redirect_stdout(sink)  # what the snippets print stays out of the frames
    SlingshotChecker.main(JOB)
end
