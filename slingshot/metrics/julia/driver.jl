# Julia side of the slingshot Julia scorer. Runs one answer's code blocks against one test case,
# following the Julia-LLM-Leaderboard harness (PromptingTools' AICode + run_code_blocks_additive).
#
# Usage: julia driver.jl JOB_FILE CHANNEL_FD, with the run's key as the first line of stdin.
# JOB_FILE defines JOB (a NamedTuple written by slingshot/metrics/julia/score.py). The answer's own
# output goes to /dev/null; protocol lines go to the pipe CHANNEL_FD, each starting with the key:
#   READY                      driver loaded
#   P <attempt> <0|1>          the attempt's code parsed (provisional: set before it runs)
#   E <attempt> <0|1> <0|1>    attempt finished: parsed, executed      (attempt = main | fallback)
#   R <0|1>                    after a restart: the previously good code was re-run
#   X <kind> <i> <0|1>         example / test number i ran without throwing
#   M <step> <message>         first line of an error, for diagnostics
#   F <reason>                 the answer tampered with the test harness
#   DONE
# The key lives only in a local of `main` and the emitter closure, never in a global, a file or
# the environment, so the answer's code cannot name it; score.py treats any line without it, or
# out of the expected order, as forged (see the threat model in score.py).
module SlingshotDriver

import Test

const CODE = Ref("")  # code handed to include_string without going through a string literal
const COUNTER = Ref(0)

"A protocol writer bound to the run's key; raw write(2) so no IO object holds the key or the fd."
function emitter(fd::Cint, key::String)
    function emit(parts...)
        line = string(key, ' ', join(parts, ' '), '\n')
        ccall(:write, Cssize_t, (Cint, Ptr{UInt8}, Csize_t), fd, line, sizeof(line))
        nothing
    end
end

function note(emit, step, err)
    msg = try
        sprint(showerror, err)
    catch
        string(typeof(err))
    end
    emit("M", step, replace(first(msg, 300), r"\s+" => " "))
end

# --- the test macros the snippets use are Test's, whatever the answer's module defines ---
const PINNED = Set(Symbol.(["@test", "@test_throws", "@testset", "@test_broken", "@test_skip",
                            "@test_logs", "@test_warn", "@test_nowarn", "@inferred", "@test_deprecated"]))
pin_tests(x) = x
function pin_tests(ex::Expr)
    if ex.head == :macrocall && !isempty(ex.args) && ex.args[1] isa Symbol && ex.args[1] in PINNED
        ex = Expr(:macrocall, GlobalRef(Test, ex.args[1]), ex.args[2:end]...)
    end
    Expr(ex.head, map(pin_tests, ex.args)...)
end

world() = ccall(:jl_get_world_counter, UInt, ())

"The functions of Test and of this driver, gathered before the answer runs."
function harness_functions()
    fs = Function[]
    for mod in (Test, SlingshotDriver), n in names(mod; all = true)
        isdefined(mod, n) || continue
        f = getfield(mod, n)
        f isa Function && parentmodule(f) === mod && push!(fs, f)
    end
    fs
end

"True when a method of one of `fs` was (re)defined after world `w0`."
tampered(w0, fs) = any(f -> any(m -> m.primary_world > w0, methods(f).ms), fs)

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

"Run one example or unit test in `mod`; true when nothing throws."
function run_snippet(emit, mod::Module, snippet, setup, teardown, job, step)
    joined = string(setup, "\n\n", snippet, "\n\n", teardown)
    try
        if job.snippet_quoting == "none"
            include_string(pin_tests, mod, joined, "__code_string_eval_additive")
        else  # the harness pasted the snippet into a """...""" literal
            escaped = escape_string(joined, job.snippet_quoting == "dollar" ? "\$" : "\"\$")
            text = "include_string(identity, $(mod),\"\"\"$(escaped)\"\"\", \"__code_string_eval_additive\")\n"
            ex = parseall(text)
            if Meta.isexpr(ex.args[end], :call)  # the function itself, not a name the answer could rebind
                ex.args[end].args[2] = pin_tests
            end
            Core.eval(mod, ex)
        end
        return true
    catch e
        note(emit, step, unwrap(e))
        return false
    end
end

# Julia 1.5 defines Threads.@spawn but does not export it yet (newer versions do).
function compat!()
    isdefined(Base.Threads, Symbol("@spawn")) && Core.eval(Base.Threads, :(export @spawn))
end

function main(job, emit)
    compat!()
    fs = harness_functions()
    w0 = world()
    tampered(w0, fs)  # compiled now, so checks cost no step time
    emit("READY")
    check() = tampered(w0, fs) ? (emit("F", "the answer redefined the test harness"); false) : true
    mod = nothing
    if job.start == "main" || job.start == "fallback"
        parsed, executed = false, false
        if job.start == "main"
            parsed, executed, mod = run_code(emit, main_code(job), job, "main")
            check() || return
            emit("E", "main", Int(parsed), Int(executed))
        end
        if !executed
            parsed, executed, mod = run_code(emit, fallback_code(job), job, "fallback")
            check() || return
            emit("E", "fallback", Int(parsed), Int(executed))
        end
        executed || (emit("DONE"); return)
    else  # restarted after a timeout: re-create the module quietly
        code = job.restore == "main" ? main_code(job) : fallback_code(job)
        _, executed, mod = run_code(emit, code, job, "restore")
        check() || return
        emit("R", Int(executed))
        executed || (emit("DONE"); return)
    end
    first_example = job.start == "examples" ? job.start_index : (job.start == "tests" ? typemax(Int) : 1)
    first_test = job.start == "tests" ? job.start_index : 1
    for (i, ex) in enumerate(job.examples)
        i < first_example && continue
        ok = run_snippet(emit, mod, ex, job.examples_setup, job.examples_teardown, job, "example$i")
        check() || return
        emit("X", "example", i, Int(ok))
    end
    for (i, t) in enumerate(job.unit_tests)
        i < first_test && continue
        ok = run_snippet(emit, mod, t, job.unit_tests_setup, job.unit_tests_teardown, job, "test$i")
        check() || return
        emit("X", "test", i, Int(ok))
    end
    emit("DONE")
end

end # module

include(ARGS[1])
let emit = SlingshotDriver.emitter(parse(Cint, ARGS[2]), readline(stdin))
    close(stdin)
    sink = open("/dev/null", "w")
    redirect_stdout(sink)
    redirect_stderr(sink)
    SlingshotDriver.main(JOB, emit)
end
