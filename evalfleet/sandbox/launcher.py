"""The launcher: the first Python code that runs inside a sandbox, before the untrusted program.

`sandbox.py` passes LAUNCHER as `python -I -S -c LAUNCHER CONFIG` (CONFIG: a Python literal). Running as the (namespace)
root where there is one, it: masks temp and home directories with tmpfs and binds back what the
sandbox needs (unshare level), sets the resource limits, drops to the check's dedicated uid (when
evalfleet runs as root), tells the parent that setup worked (one byte on a pipe, closed before
the program starts, so the program cannot forge it), then forks the program and waits for it,
exiting with its status (128 + signal when killed). It is plain source text, not imported.
"""

LAUNCHER = r"""
import os, resource, sys, types
c = eval(sys.argv[1], {"__builtins__": {}})  # a literal written by sandbox.py (json would cost 60 ms of imports)
def _fail(msg):
    sys.stderr.write("evalfleet-sandbox: " + msg + "\n"); os._exit(125)
try:
    if c["masks"]:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        def _mount(src, dst, fstype, flags, data):
            if libc.mount(src.encode(), dst.encode(), fstype and fstype.encode(), flags, data and data.encode()) != 0:
                _fail("mount %s on %s: %s" % (src, dst, os.strerror(ctypes.get_errno())))
        keep = [(os.open(src, os.O_PATH | os.O_DIRECTORY), dst) for src, dst in c["binds"]]
        for path, mode in c["masks"]:
            _mount("tmpfs", path, "tmpfs", 2 | 4, "size=%d,mode=%s" % (c["tmpfs_size"], mode))  # MS_NOSUID|MS_NODEV
        for fd, dst in keep:
            os.makedirs(dst, exist_ok=True)
            _mount("/proc/self/fd/%d" % fd, dst, None, 4096 | 16384, None)  # MS_BIND | MS_REC
            os.close(fd)
    for name, value in c["rlimits"].items():
        resource.setrlimit(getattr(resource, name), (value, value))
    if c["cpu"]:
        resource.setrlimit(resource.RLIMIT_CPU, (c["cpu"], c["cpu"] + 1))
    nproc = c["nproc"]
    if c["nproc_shared"]:  # no own uid and no user namespace: the uid's other processes count too
        for p in os.listdir("/proc"):
            try:
                nproc += p.isdigit() and os.stat("/proc/" + p).st_uid == os.getuid()
            except OSError:
                pass
    resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
    if c["uid"] is not None:
        os.setgroups([])
        os.setresgid(c["gid"], c["gid"], c["gid"])
        os.setresuid(c["uid"], c["uid"], c["uid"])
    os.chdir(c["cwd"])
    os.write(c["ready_fd"], b"R")
    os.close(c["ready_fd"])
except SystemExit:
    raise
except BaseException as exc:
    _fail("setup failed: %r" % (exc,))
launcher = os.getpid()
pid = os.fork()
if pid:
    while True:
        try:
            done, status = os.wait()
        except ChildProcessError:
            os._exit(125)
        if done == pid:
            code = os.waitstatus_to_exitcode(status)
            os._exit(code if code >= 0 else 128 - code)

if c["pdeathsig"]:  # no PID namespace to die with: the program dies with the launcher
    import ctypes
    ctypes.CDLL(None).prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL
    if os.getppid() != launcher:  # the launcher died before prctl
        os._exit(125)
main = types.ModuleType("__main__")
main.__file__ = c["program"]
sys.modules["__main__"] = main
sys.argv = [c["program"]]
sys.path[:] = [""] + sys.path + c["path"]
del c, pid, launcher, _fail
with open(main.__file__, "rb") as f:
    exec(compile(f.read(), main.__file__, "exec"), main.__dict__)
"""
