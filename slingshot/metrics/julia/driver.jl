# The answer's side of the slingshot Julia scorer: loads one answer's code blocks the way the
# Julia-LLM-Leaderboard harness did (PromptingTools' AICode), then serves calls to what it defined.
# It never sees the case's examples, unit tests or reference solution, and nothing it writes is a
# verdict: the checker (checker.jl, another process) runs the tests and asks this one for values.
#
# Usage: julia driver.jl WIRE_FILE JOB_FILE. JOB_FILE defines JOB (a NamedTuple written by score.py).
# Frames (wire.jl) go out on what was stdout and come in on what was stdin; the answer's own
# stdin, stdout and stderr are /dev/null. Outgoing text frames while loading:
#   READY                      driver loaded
#   P <attempt> <0|1>          the attempt's code parsed (provisional: set before it runs)
#   E <attempt> <0|1> <0|1>    attempt finished: parsed, executed      (attempt = main | fallback)
#   R <0|1>                    after a restart: the previously good code was re-run
#   M <step> <message>         first line of an error, for diagnostics
#   L <name>:<f|t> ...         loaded: the functions and types the answer defined; calls follow
#   DONE                       nothing executed, nothing to serve
# Then each incoming frame is a request (encoded tuple) and gets one reply: (:ok, value) or
# (:error, Base exception type name or "", message). Whatever this process writes is only ever
# "the answer returned X", so it holds nothing worth stealing.
include(ARGS[1])

module SlingshotDriver

using ..SlingshotWire
import Test
Base.Experimental.@optlevel 0  # the harness's own code; the answer's module keeps the default

const CODE = Ref("")  # code handed to include_string without going through a string literal
const COUNTER = Ref(0)
const HANDLES = Any[]
const MAX_HANDLES = 100_000

note(emit, step, err) = emit("M", step, error_line(err))

# --- parsing helpers (PromptingTools semantics; Meta.parseall does not exist in Julia 1.5) ---
function parseall(code::AbstractString)
    ex = Base.parse_input_line(String(code); filename = "__code_string_eval")
    ex === nothing && return Expr(:toplevel)
    Meta.isexpr(ex, :toplevel) ? ex : Expr(:toplevel, ex)
end
isparsed(ex::Expr) = !(Meta.isexpr(ex, :toplevel) && !isempty(ex.args) &&
                       Meta.isexpr(ex.args[end], (:error, :incomplete)))
isparsed(::Nothing) = false
isparseerror(err) = err isa Meta.ParseError ||
                    (err isa ErrorException && startswith(err.msg, "syntax:"))

const JULIA_HEADS = (:block, :quote, :call, :macrocall, :(=), :function, :for, :if, :while,
    :let, :try, :catch, :finally, :method, :tuple, :array, :index, :ref, :., :do, :curly,
    :typed_vcat, :typed_hcat, :comprehension, :generator, :kw, :where)
is_julia_expr(ex) = false
is_julia_expr(ex::Expr) = Meta.isexpr(ex, JULIA_HEADS) || any(a -> Meta.isexpr(a, JULIA_HEADS), ex.args)

function is_julia_code(code::AbstractString)
    ex = try
        parseall(code)
    catch
        return false
    end
    isparsed(ex) && is_julia_expr(ex)
end

# --- unsafe lines: Pkg operations and imports of packages the environment does not know ---
detect_pkg_operation(line) = occursin(r"^\s*\bPkg.[a-z]"ms, line)

function extract_julia_imports(line::AbstractString)
    names = String[]
    occursin(r"(^using |^import )"m, line) || return names
    rest = replace(replace(line, "using" => ""), "import" => "")
    parts = map(x -> occursin(':', x) ? split(x, ':')[1] : x, split(rest, ","))
    for word in split(replace(join(parts, ' '), ',' => ' '), " ")
        isempty(word) || startswith(word, "Base") || startswith(word, "Main") || push!(names, word)
    end
    names
end

function package_known(name::AbstractString, known::Vector{String}, use_local::Bool)
    name in known && return true
    sym = Symbol(name)
    (isdefined(Base, sym) || isdefined(Main, sym)) && return true
    use_local || return false
    return try
        Base.find_package(String(name)) !== nothing
    catch
        false
    end
end

function remove_unsafe_lines(code::AbstractString, job)
    io = IOBuffer()
    for line in readlines(IOBuffer(code))
        unsafe = detect_pkg_operation(line) ||
                 any(p -> !package_known(p, job.known_packages, job.local_packages),
                     extract_julia_imports(line))
        unsafe || println(io, line)
    end
    String(take!(io))
end

# --- test removal: the answer's own @testset / @test / @test_throws are dropped ---
function remove_macro!(ex, sym::Symbol)
    if ex isa Expr && ex.head == :macrocall && !isempty(ex.args) && ex.args[1] == sym
        return Expr(:block)
    elseif ex isa Expr && !isempty(ex.args)
        ex.args = filter(x -> !(x isa Expr && x.head == :macrocall && !isempty(x.args) &&
                                x.args[1] == sym), ex.args)
        foreach(x -> remove_macro!(x, sym), ex.args)
    end
    ex
end
remove_all_tests!(ex) = remove_macro!(remove_macro!(remove_macro!(ex, Symbol("@testset")),
                                                    Symbol("@test")), Symbol("@test_throws"))

# --- running the answer ---
unwrap(err) = err isa LoadError ? err.error : err

"Evaluate `code` in a fresh module like PromptingTools' eval!; returns (parsed, executed, module)."
function run_code(emit, code::AbstractString, job, attempt::String)
    if isempty(code)
        emit("M", attempt, "no code found")
        return false, false, nothing
    end
    isparsed(parseall(code)) || (emit("M", attempt, "code does not parse"); return false, false, nothing)
    COUNTER[] += 1
    modname = "SafeMod$(COUNTER[])"
    transform = "Main.SlingshotDriver.remove_all_tests!"
    literal = if job.quote_code  # the harness pasted the code into a """...""" literal, escaping only $
        "\"\"\"" * escape_string(code, "\$") * "\"\"\""
    else
        CODE[] = code
        "Main.SlingshotDriver.CODE[]"
    end
    text = string("module ", modname, "\nusing Test\n", job.prefix, "\n",
                  "include_string(", transform, ", ", modname, ", ", literal, ", \"__code_string_eval\")\n",
                  "\nend")
    expr = parseall(text)
    emit("P", attempt, Int(isparsed(expr)))
    err = nothing
    try
        Core.eval(Main, expr)
    catch e
        err = unwrap(e)
    end
    err === nothing || note(emit, attempt, err)
    parsed = isparsed(expr) && !isparseerror(err)
    mod = isdefined(Main, Symbol(modname)) ? getfield(Main, Symbol(modname)) : nothing
    return parsed, err === nothing, mod
end

"The harness's fallback: the block that defines the target function, else all blocks joined."
function fallback_code(job)
    for (block, name) in zip(job.blocks, job.block_names)
        if name == job.name && is_julia_code(block)
            return remove_unsafe_lines(block, job)
        end
    end
    remove_unsafe_lines(join(job.blocks, "\n\n"), job)
end

main_code(job) = remove_unsafe_lines(join(filter(is_julia_code, job.blocks), "\n"), job)

# --- serving calls from the checker ---
"Functions and types the answer's module defines itself (not imported, not generated, not macros)."
function defined_names(mod::Module)
    out = Tuple{String,String}[]
    for n in names(mod; all = true)
        s = string(n)
        (Base.isidentifier(s) && n !== nameof(mod) && !(n in (:eval, :include))) || continue
        (isdefined(mod, n) && Base.binding_module(mod, n) === mod) || continue
        v = getfield(mod, n)
        v isa Type ? push!(out, (s, "t")) : v isa Function && push!(out, (s, "f"))
    end
    out
end

function keep_handle(io, x)
    length(HANDLES) < MAX_HANDLES || throw(WireError("too many values kept"))
    push!(HANDLES, x)
    SlingshotWire.write_handle(io, length(HANDLES), first(string(typeof(x)), 200))
end

function lookup(mod)
    handle(id, _) = 1 <= id <= length(HANDLES) ? HANDLES[id] : throw(WireError("unknown handle $id"))
    name(sym) = isdefined(mod, sym) ? getfield(mod, sym) : throw(UndefVarError(sym))
    handle, name
end

own(mod, name, default) = isdefined(mod, name) && Base.binding_module(mod, name) === mod ? getfield(mod, name) : default

function answer(mod, req)
    op = req[1]
    if op === :call
        return Base.invokelatest(req[2], req[3]...; req[4]...)
    elseif op === :show  # the answer's own `show`/`print`, as a snippet sharing its module called them
        how = req[2] === :print ? own(mod, :print, print) :
              req[2] === :plain ? (io, x) -> own(mod, :show, show)(io, MIME"text/plain"(), x) : own(mod, :show, show)
        return Base.invokelatest(sprint, how, req[3])
    elseif op === :getproperty
        return Base.invokelatest(getproperty, req[2], req[3])
    elseif op === :define
        before = Set(defined_names(mod))
        include_string(mod, req[2], "__checker_definition")
        return filter(!in(before), defined_names(mod))
    end
    throw(ArgumentError("unknown request"))
end

function error_reply(err)
    T = typeof(err)
    base = T isa DataType && parentmodule(T) in (Base, Core) ? string(nameof(T)) : ""
    msg = try
        first(sprint(showerror, err), 300)
    catch
        base
    end
    (:error, base, msg)
end

function serve(mod, input::IO, output::IO)
    handle, name = lookup(mod)
    while true
        bytes = try
            read_frame(input)
        catch
            return  # the scorer closed the pipe
        end
        reply = try
            (:ok, answer(mod, decode_value(bytes, handle, name)))
        catch err
            error_reply(err)
        end
        out = try  # the latest world: encoding may call methods the answer defined (iterate, size...)
            Base.invokelatest(encode_value, reply, keep_handle)
        catch err
            encode_value(error_reply(err), keep_handle)
        end
        write_frame(output, out)
    end
end

# Julia 1.5 defines Threads.@spawn but does not export it yet (newer versions do).
function compat!()
    isdefined(Base.Threads, Symbol("@spawn")) && Core.eval(Base.Threads, :(export @spawn))
end

"Load the answer (main attempt, then the fallback; or the code that ran before a restart)."
function load(job, emit)
    mod = nothing
    if job.start == "main" || job.start == "fallback"
        parsed, executed = false, false
        if job.start == "main"
            parsed, executed, mod = run_code(emit, main_code(job), job, "main")
            emit("E", "main", Int(parsed), Int(executed))
        end
        if !executed
            parsed, executed, mod = run_code(emit, fallback_code(job), job, "fallback")
            emit("E", "fallback", Int(parsed), Int(executed))
        end
    else  # restarted after a timeout: re-create the module quietly
        code = job.restore == "main" ? main_code(job) : fallback_code(job)
        _, executed, mod = run_code(emit, code, job, "restore")
        emit("R", Int(executed))
    end
    executed ? mod : nothing
end

function main(job, input::IO, output::IO)
    emit(parts...) = write_frame(output, Vector{UInt8}(join(parts, ' ')))
    compat!()
    emit("READY")
    mod = load(job, emit)
    mod === nothing && (emit("DONE"); return)
    emit("L", join(("$n:$k" for (n, k) in defined_names(mod)), ' '))
    serve(mod, input, output)
end

end # module

include(ARGS[2])
let input = Base.fdio(ccall(:dup, Cint, (Cint,), 0), true), output = Base.fdio(ccall(:dup, Cint, (Cint,), 1), true)
    sink = open("/dev/null", "w")
    redirect_stdin(open("/dev/null"))
    redirect_stdout(sink)
    redirect_stderr(sink)
    SlingshotDriver.main(JOB, input, output)
end
