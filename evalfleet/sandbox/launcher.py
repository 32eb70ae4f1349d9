"""The launcher: the first Python code that runs inside a sandbox, before the untrusted program.

`runner.py` passes LAUNCHER as `python -I -S -c LAUNCHER CONFIG` (CONFIG: a Python literal). Running as the
(namespace) root where there is one, it: reads the program (unshare level, before /tmp is masked), masks
temp and home directories with tmpfs — /tmp writable and size-limited, the others read-only — and binds
the Python install back read-only (unshare level); bounds the inodes of bwrap's /tmp (as root); writes
the program into its working directory /tmp/sandbox; sets the resource limits; drops to the check's
dedicated uid (when evalfleet runs as root; the capabilities go with it); tells the parent that setup
worked (one byte on a pipe, closed before the program starts, so the program cannot forge it), then
forks the program and waits for it, exiting with its status (128 + signal when killed). It is plain
source text, not imported.
"""

LAUNCHER = r"""
import os, resource, sys, types
c = eval(sys.argv[1], {"__builtins__": {}})  # a literal written by sandbox.py (json would cost 60 ms of imports)
def _fail(msg):
    sys.stderr.write("evalfleet-sandbox: " + msg + "\n"); os._exit(125)
try:
    text = None
    if c["source"] is not None:  # the program, read before /tmp is masked
        with open(c["source"], "rb") as f:
            text = f.read()
    if c["masks"] or c["remount"]:
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        def _mount(src, dst, fstype, flags, data):
            if libc.mount(src.encode(), dst.encode(), fstype and fstype.encode(), flags, data and data.encode()) != 0:
                _fail("mount %s on %s: %s" % (src, dst, os.strerror(ctypes.get_errno())))
        def _kept_flags(path):  # a read-only remount must keep the flags a user namespace locked
            f = os.statvfs(path).f_flag
            return (f & (2 | 4 | 8 | 1024 | 2048)) | (2097152 if f & 4096 else 0)  # nosuid nodev noexec *atime
        keep = [(os.open(src, os.O_PATH | os.O_DIRECTORY), dst) for src, dst in c["binds"]]
        for path, data in c["masks"]:
            _mount("tmpfs", path, "tmpfs", 2 | 4, data)  # MS_NOSUID | MS_NODEV
        for fd, dst in keep:
            os.makedirs(dst, exist_ok=True)
            _mount("/proc/self/fd/%d" % fd, dst, None, 4096 | 16384, None)  # MS_BIND | MS_REC
            _mount("none", dst, None, 32 | 4096 | 1 | _kept_flags(dst), None)  # MS_REMOUNT | MS_BIND | MS_RDONLY
            os.close(fd)
        for path in c["readonly"]:
            _mount("none", path, None, 32 | 1 | 2 | 4, None)  # MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV
        for path, data in c["remount"]:
            _mount("none", path, None, 32 | 2 | 4, data)  # MS_REMOUNT: new size and inode limits
    if text is not None:
        os.mkdir(c["cwd"], 0o700)
        with open(c["cwd"] + "/" + c["program"], "wb") as f:
            f.write(text)
        if c["uid"] is not None:
            for p in (c["cwd"], c["cwd"] + "/" + c["program"]):
                os.chown(p, c["uid"], c["gid"])
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
del c, pid, launcher, _fail, text
with open(main.__file__, "rb") as f:
    exec(compile(f.read(), main.__file__, "exec"), main.__dict__)
"""
