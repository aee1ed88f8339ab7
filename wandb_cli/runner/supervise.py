"""Wrapping a child process as a run: terminal tee, signals, heartbeat, exit code.

Invariants: the child's output reaches our stdout/stderr unchanged and as it comes (a
pseudo-terminal when stdout is a terminal, pipes otherwise); the same text goes to
output.log.  Our exit status is the child's (128+N for death by signal N).  Ctrl+C reaches
the child once; SIGINT, SIGTERM and SIGHUP sent to wbrun are forwarded to the child's process
group.  On Linux the child gets SIGKILL if wbrun dies (parent-death signal), so a kill -9 of
wbrun never leaves it running unrecorded; the run then reads as crashed.  Job control works
as with the bare command: when the child stops (Ctrl+Z), wbrun stops its own job too and
continues the child when continued.  Background jobs the command leaves behind are neither
hung up nor cut off: on a pty the command is not the session leader (a small leader process
stays between), and after the command exits the pipes or the terminal they hold go to a
carrier process (drain.py).
"""
from __future__ import annotations

import errno
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Literal

from wandb_cli.artifacts.runfiles import start_saver
from wandb_cli.errors import StoreError, UsageError
from wandb_cli.runner.capture import OutputRecorder
from wandb_cli.runner.metadata import write_metadata
from wandb_cli.runner.pumps import OUTPUT_CACHE_WINDOW, READ_SIZE, read_buffered, widen_pipe
from wandb_cli.runner.sampler import start_system_sampler, system_enabled, system_interval
from wandb_cli.store import jsonio, proc
from wandb_cli.store.layout import OUTPUT, SDK_ATTACHED, SDK_FINISHED, SDK_IMPORTED, Store, sdk_writing
from wandb_cli.store.model import FAILED, FINISHED, KILLED
from wandb_cli.store.recorder import STOP_REQUEST, RunSpec, Ticker, start_run

FORWARDED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
KILL_SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGKILL}
KILLED_EXIT_CODES = {128 + signal.SIGINT, 128 + signal.SIGTERM, 128 + signal.SIGHUP}
DEFAULT_STOP_TIMEOUT_S = 10.0
# printed metrics of a program that imported wandb wait this long (and at most this many
# rows) for its init() before they are recorded as steps
HOLD_S = 30.0
HOLD_ROWS = 100_000


@dataclass
class WrapOptions:
    spec: RunSpec
    quiet: bool = False
    capture: bool = True
    system: bool = True
    system_interval: float | None = None
    wandb_compat: str | None = None  # "on"/"off"; None: $WBRUN_WANDB_COMPAT, else on
    env: dict = field(default_factory=lambda: dict(os.environ))


def _pty_session_setup():
    """Runs in the child between fork and exec (pty mode): it becomes the pseudo-terminal's
    session leader, forks the command into a process group of its own that holds the
    terminal's foreground, and stays behind as a small session leader (`_lead_session`)
    instead of exec'ing.  So, as under a login shell, the command is not the session leader:
    its exit sends no SIGHUP to background jobs it started, and its process group is not
    orphaned, so Ctrl+Z stops it.  Only the command returns from here, to be exec'd."""
    def setup() -> None:
        import fcntl
        import termios

        fcntl.ioctl(1, termios.TIOCSCTTY, 0)
        _set_parent_death_signal()  # the leader dies with wbrun ...
        command = os.fork()
        if command == 0:
            os.setpgid(0, 0)
            _hold_foreground(1, os.getpid())
            _set_parent_death_signal()  # ... and the command with the leader
            return
        try:
            _lead_session(command)
        finally:
            os._exit(1)  # never return: only the command may go on to exec
    return setup


def _hold_foreground(tty_fd: int, pgrp: int) -> None:
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTTOU})
    try:
        os.tcsetpgrp(tty_fd, pgrp)
    except OSError:
        pass
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTTOU})


def _lead_session(command: int) -> None:
    """The pty session's leader: relays wbrun's signals to the command's group, stops when
    the command stops (so wbrun sees it and stops too) and continues it when continued, and
    exits as the command did, after taking the terminal's foreground back so that jobs the
    command left behind are background jobs, which neither its exit nor ours hangs up."""
    os.closerange(3, 65536)  # wbrun's files, and Popen's exec-report pipe
    try:
        os.setpgid(command, command)
    except OSError:
        pass
    _hold_foreground(1, command)

    def relay(signum: int, _frame) -> None:
        try:
            os.killpg(command, signum)
        except OSError:
            pass

    for signum in FORWARDED_SIGNALS:
        signal.signal(signum, relay)
    while True:
        _, status = os.waitpid(command, os.WUNTRACED)
        if not os.WIFSTOPPED(status):
            break
        os.kill(os.getpid(), signal.SIGSTOP)  # wbrun sees us stop; its SIGCONT wakes us
        relay(signal.SIGCONT, None)
    for signum in FORWARDED_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)
    _hold_foreground(1, os.getpgrp())
    if os.WIFSIGNALED(status):
        _die_of(os.WTERMSIG(status))
    os._exit(os.WEXITSTATUS(status))


def _die_of(signum: int) -> None:
    """Exit by `signum`, as the command did, so wbrun reports 128+N (no core file)."""
    import resource

    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        signal.signal(signum, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signum})
        os.kill(os.getpid(), signum)
    finally:
        os._exit(128 + signum)


_prctl: Callable[..., int] | Literal[False] | None = None


def load_prctl() -> None:
    """Find libc's prctl in the parent: loading ctypes between fork and exec would cost every
    start several milliseconds (and is not async-signal-safe)."""
    global _prctl
    if _prctl is None and sys.platform.startswith("linux"):
        try:
            import ctypes

            _prctl = ctypes.CDLL(None, use_errno=True).prctl
        except Exception:
            _prctl = False


def _set_parent_death_signal() -> None:
    if _prctl:
        _prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG


class CannotStart(UsageError):
    """The command could not be started; exit status 127 (not found) or 126 (not runnable)."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.exit_code = status


class Wrapper:
    """Runs one child as a run and returns its exit status."""

    def __init__(self, argv: list[str], options: WrapOptions, store: Store):
        if not argv:
            raise UsageError("nothing to run: give a command after --")
        self.argv = argv
        self.options = options
        self.store = store
        self.child: subprocess.Popen | None = None
        self.signalled: int | None = None
        self.stop_requested = False
        self._stop_thread: threading.Thread | None = None
        self._sdk_attached = False
        # printed metric rows held back once the program imported wandb, until its SDK joins
        # (they were output, as under W&B) or HOLD_S passes (they are steps after all)
        self._held: list[tuple[tuple[float, float], list[dict]]] | None = None
        self._held_rows, self._held_since = 0, 0.0
        self._importers_seen: set[int] = set()

    # --- the whole life -----------------------------------------------------------------
    def run(self) -> int:
        from wandb_cli.runner.metadata import redact_command

        self.options.spec.command = redact_command(self.argv)
        # refused before the run exists
        self.interval = system_interval(self.options.system_interval, self.options.env)
        from wandb_cli.runner.wandb_shim import compat_mode

        self.compat = compat_mode(self.options.wandb_compat, self.options.env)
        self.options.spec.extra["wandb_compat"] = self.compat
        # Our handlers from before the run exists until it is recorded: a signal while we
        # start is kept and sent to the command once it exists (a SIGTERM from a scheduler
        # then still stops it), and a second Ctrl+C while finishing must not leave the run
        # unrecorded (it only marks a signal once the child is gone).
        previous = {s: signal.signal(s, self._forward) for s in FORWARDED_SIGNALS}
        try:
            self.live = start_run(self.store, self.options.spec, pid=os.getpid(), recorder="wrapper")
        except BaseException:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            raise
        try:
            self.saver = start_saver(self.live.paths.dir)  # acts on `wbrun save` live/end requests
            self._forget_earlier_sdk()
            output_log = jsonio.AppendFile(self.live.paths.file(OUTPUT), cache_window=OUTPUT_CACHE_WINDOW)
            self.recorder = OutputRecorder(output_log, self._on_metrics if self.options.capture else None,
                                           warn=self._warn)
            if self.signalled is not None:  # Ctrl+C or SIGTERM while the run was made: the
                # command is not started (it would only be killed), the run reads killed
                status = 128 + self.signalled
                self._finish(KILLED, status, output_log)
                return status
            returncode = self._pump_guarded()
            self._release_held()
            status = returncode if returncode >= 0 else 128 - returncode
            state, recorded = self._final_state(returncode), status
            if state == FINISHED:  # a failure the program's SDK reported stands (its marker)
                state, recorded = self._sdk_outcome(state, recorded)
            self._finish(state, recorded, output_log)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return status

    def _pump_guarded(self) -> int:
        """The child's return code, also when our own pumping fails: then the child is
        stopped (we can no longer carry its output) and the run is still recorded."""
        try:
            return self._spawn_and_pump()
        except CannotStart:
            raise
        except Exception as exc:
            self._warn(f"wbrun failed while running the command: {type(exc).__name__}: {exc}")
            if self.child is not None and self.child.poll() is None:
                self._signal_child(signal.SIGTERM)
            return self.child.wait() if self.child is not None else 1

    def _spawn_and_pump(self) -> int:
        from wandb_cli.runner.wandb_shim import child_env

        env = {**child_env(self.options.env, self.compat), "WBRUN_RUN_ID": self.live.id,
               "WBRUN_RUN_DIR": str(self.live.paths.dir), "WBRUN_DIR": str(self.store.root)}
        # the keys the program's init(config=) may not override (not an outer wrapper's)
        env["WBRUN_CONFIG_KEYS"] = jsonio.dumps(sorted(self.options.spec.config or {})).decode()
        self.metadata_thread = threading.Thread(
            target=write_metadata, args=(self.live, self.argv), daemon=True)
        use_pty = os.isatty(sys.stdout.fileno()) and sys.platform != "win32"
        load_prctl()
        pump: PtyPump | PipePump
        try:
            if use_pty:
                pump = PtyPump(self.argv, env, log_path=str(self.live.paths.file(OUTPUT)))
            else:
                pump = PipePump(self.argv, env, log_path=str(self.live.paths.file(OUTPUT)))
        except OSError as exc:
            status = 126 if isinstance(exc, PermissionError) else 127  # as shells report it
            self._finish(FAILED, status, None)
            raise CannotStart(f"cannot run {self.argv[0]!r}: {exc.strerror or exc}", status) from None
        self.child = pump.child
        if self.signalled is not None:  # it came while the command was being started
            self._signal_child(self.signalled)
        self.metadata_thread.start()
        self.ticker = Ticker(self.live, on_stop=self._on_stop_request, keep_digest=True)
        self.ticker.start()
        sample = self.options.system and system_enabled(self.options.env)
        self.sampler = start_system_sampler(self.live, self.child.pid, self.interval) if sample else None
        return pump.pump(self.recorder)

    def _finish(self, state: str, status: int, output_log) -> None:
        for helper in (getattr(self, "ticker", None), getattr(self, "sampler", None), self.saver):
            if helper is not None:
                helper.stop()
        thread = getattr(self, "metadata_thread", None)
        if thread is not None and thread.is_alive():
            thread.join(timeout=10)
        self._summary_if_sdk_left_early()
        shown = state
        try:
            self.live.finish(state, status)
        except StoreError as exc:  # said even after an earlier warning: it changes the state
            print(f"wbrun: warning: {exc.render()}; the run's end was not recorded, so it will "
                  f"read as crashed (exit code {status})", file=sys.stderr)
            shown = f"{state} (not recorded: it reads as crashed)"
        if output_log is not None:
            output_log.close()
        if not self.options.quiet:
            from wandb_cli.runner.closing import closing_block

            try:
                sys.stderr.write(closing_block(self.live, shown))
                sys.stderr.flush()
            except OSError:  # the terminal is gone: the run is recorded all the same
                pass

    def _final_state(self, returncode: int) -> str:
        if self.stop_requested or self.signalled is not None:
            return KILLED if returncode != 0 else (KILLED if self.stop_requested else FINISHED)
        if returncode < 0 and -returncode in KILL_SIGNALS:
            return KILLED
        if returncode in KILLED_EXIT_CODES:  # shells and Python handlers exit 128+N on Ctrl+C
            return KILLED
        return FINISHED if returncode == 0 else FAILED

    def _sdk_outcome(self, state: str, status: int) -> tuple[str, int]:
        """(state, exit code) to record for a command that exited 0: failed, with the code
        finish() was given, where the program's SDK finished the joined run so."""
        try:
            outcome = jsonio.read_json(self.live.paths.dir / SDK_FINISHED, None)
        except (ValueError, OSError):
            return state, status
        if isinstance(outcome, dict) and outcome.get("state") == FAILED:
            code = outcome.get("exit_code")
            return FAILED, code if isinstance(code, int) and not isinstance(code, bool) and code else 1
        return state, status

    # --- metrics from output and from `wbrun log` ---------------------------------------
    def _on_metrics(self, batch: list[dict]) -> None:
        if not self._sdk_attached:
            self._sdk_attached = os.path.exists(self.live.paths.dir / SDK_ATTACHED)
        if self._sdk_attached:
            self._held = None
            return  # the program logs through the SDK; printed lines are only output
        if self._holding() and self._held is not None:
            # `print(f"lr={lr}")` before wandb.init(): not a step (W&B's first log() is step 0)
            self._held.append((self.live.printed_stamps(), batch))
            self._held_rows += len(batch)
            return
        self._append_printed(batch)

    def _holding(self) -> bool:
        """Whether printed rows wait for the SDK of a process that imported wandb (its pid in
        the SDK_IMPORTED marker): while that process lives, for HOLD_S and HOLD_ROWS at most.
        Ending, the wait records what it held, with the times the lines were printed."""
        if self._held is None:
            importers = self._importers() - self._importers_seen
            if not importers:
                return False
            self._importers_seen |= importers
            self._held, self._held_rows, self._held_since = [], 0, time.monotonic()
        if time.monotonic() - self._held_since < HOLD_S and self._held_rows < HOLD_ROWS and \
                any(proc.is_alive(pid, None) for pid in self._importers_seen):
            return True
        self._release_held()
        return False

    def _importers(self) -> set[int]:
        try:
            text = (self.live.paths.dir / SDK_IMPORTED).read_text()
        except (OSError, ValueError):
            return set()
        return {int(word) for word in text.split() if word.isdigit()}

    def _append_printed(self, batch: list[dict], stamps: tuple[float, float] | None = None) -> None:
        try:
            self._sdk_attached = not self.live.append_steps(batch, stamps)
        except StoreError as exc:
            self._warn(exc.render())

    def _release_held(self) -> None:
        """Rows held for an SDK that never joined are steps after all (the wait ended, or
        the command did)."""
        held, self._held = self._held, None
        for stamps, batch in held or ():
            if self._sdk_attached:  # (append_steps writes nothing once the SDK has joined)
                return
            self._append_printed(batch, stamps)

    def _summary_if_sdk_left_early(self) -> None:
        """The program's SDK joined the run and exited without finish() (os._exit, a
        kill): its last summary flush may be behind its history, so the summary is
        rebuilt from the history (store/metrics.py rules) before the run is closed."""
        run_dir = self.live.paths.dir
        if not sdk_writing(run_dir):
            return
        from wandb_cli.store.layout import SUMMARY, merge_json_doc, summary_from_history

        try:
            saved = jsonio.read_json(self.live.paths.file(SUMMARY), {}) or {}
            merge_json_doc(self.live.paths, SUMMARY, summary_from_history(run_dir, saved))
        except (StoreError, ValueError, OSError) as exc:
            self._warn(f"could not rebuild the summary from the history: {exc}")

    def _forget_earlier_sdk(self) -> None:
        """A resumed run's marker is from an earlier program: this one may only print metrics."""
        for marker in (SDK_ATTACHED, SDK_FINISHED, SDK_IMPORTED):
            try:
                os.unlink(self.live.paths.dir / marker)
            except FileNotFoundError:
                pass

    def _warn(self, message: str) -> None:
        if self.live.write_error is None:
            self.live.write_error = message
            print(f"wbrun: warning: {message}", file=sys.stderr)

    # --- signals and stop requests ------------------------------------------------------
    def _forward(self, signum: int, _frame) -> None:
        self.signalled = signum
        self._signal_child(signum)

    def _signal_child(self, signum: int) -> None:
        if self.child is None or self.child.returncode is not None:
            return
        try:
            os.killpg(self.child.pid, signum)
        except (ProcessLookupError, PermissionError):
            try:
                self.child.send_signal(signum)
            except ProcessLookupError:
                pass

    def _on_stop_request(self) -> None:
        self.stop_requested = True
        try:
            request = jsonio.read_json(self.live.paths.dir / STOP_REQUEST, {}) or {}
        except ValueError:
            request = {}
        timeout = float(request.get("timeout") or DEFAULT_STOP_TIMEOUT_S)
        self._stop_thread = threading.Thread(target=self._escalate, args=(timeout,), daemon=True)
        self._stop_thread.start()

    def _escalate(self, timeout: float) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
            if self.child is None or self.child.poll() is not None:
                return
            self._signal_child(signum)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.child.poll() is not None:
                    return
                time.sleep(0.05)


class PipePump:
    """The child on pipes (stdout not a terminal): its own process group, stdin inherited."""

    def __init__(self, argv: list[str], env: dict, log_path: str | None = None):
        self.log_path = log_path  # where background jobs' output goes after the command
        self._foreground = os.getpgrp() if _is_foreground_tty(0) else None
        self.child = subprocess.Popen(
            argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            preexec_fn=_pipe_child_setup(take_terminal=self._foreground is not None),
            close_fds=True)

    def pump(self, recorder: OutputRecorder) -> int:
        assert self.child.stdout is not None and self.child.stderr is not None  # both PIPE
        streams = {self.child.stdout.fileno(): (sys.stdout, recorder.stream()),
                   self.child.stderr.fileno(): (sys.stderr, recorder.stream())}
        selector = selectors.DefaultSelector()
        for fd in streams:
            widen_pipe(fd)
            selector.register(fd, selectors.EVENT_READ)
        exited_at = None
        try:
            # until the command has exited, even with no pipe left to read (closed by it, or
            # by us when their reader went): it keeps the terminal and its job control
            while streams or self.child.poll() is None:
                if _stopped(self.child.pid):
                    self._suspend()
                if not streams:  # (no pipe left: wait on the command itself, not a 0.1 s tick)
                    try:
                        self.child.wait(timeout=0.1)
                    except subprocess.TimeoutExpired:
                        pass
                    continue
                for key, _ in selector.select(timeout=0.1):
                    self._read(key.fd, streams, selector, recorder)
                if self.child.poll() is not None and streams:
                    # A background job may hold our pipes open: drain briefly, then hand the
                    # pipes to a carrier (drain.py) so the job's writes neither fail nor kill
                    # it (SIGPIPE), and return the command's status now, as a shell would.
                    exited_at = exited_at or time.monotonic()
                    if time.monotonic() - exited_at > 0.3:
                        for _, stream in streams.values():
                            stream.close()
                        self._hand_off(streams)
                        break
        finally:
            selector.close()
            _take_terminal_back(self._foreground)
        return self.child.wait()

    def _suspend(self) -> None:
        """The command stopped (Ctrl+Z at the terminal it holds): take the terminal back and
        stop with it, so the shell gets its prompt back; when continued (`fg`), give the
        terminal to the command again and continue it.  Without job control: nothing."""
        if self._foreground is None:
            return
        _take_terminal_back(self._foreground)
        _stop_ourselves()
        if _is_foreground_tty(0):  # `fg`; after `bg` the terminal stays the shell's
            _hold_foreground(0, self.child.pid)
        _continue(self.child.pid)

    def _hand_off(self, streams: dict) -> None:
        if self.log_path is None or not streams:
            return
        from wandb_cli.runner.drain import hand_off

        hand_off({fd: out.fileno() for fd, (out, _) in streams.items()}, self.log_path)

    def _read(self, fd: int, streams: dict, selector, recorder: OutputRecorder) -> None:
        try:
            data = os.read(fd, READ_SIZE)
        except InterruptedError:
            return
        out, stream = streams[fd]
        if not data:
            selector.unregister(fd)
            del streams[fd]
            stream.close()
            return
        reader_gone = not _write_all(out.fileno(), data)
        stream.feed(data)
        if reader_gone:
            # As with `CMD | head` at a shell: the command's next write to this stream gets
            # EPIPE (SIGPIPE), so it stops instead of writing into output.log without end.
            # What it had written already is recorded, not thrown away with the pipe.
            for rest in read_buffered(fd):
                stream.feed(rest)
            selector.unregister(fd)
            del streams[fd]
            stream.close()
            self._close_pipe(fd)

    def _close_pipe(self, fd: int) -> None:
        for pipe in (self.child.stdout, self.child.stderr):
            if pipe is not None and not pipe.closed and pipe.fileno() == fd:
                pipe.close()


def _pipe_child_setup(*, take_terminal: bool):
    """Runs in the child between fork and exec: its own process group and, when our stdin is
    the terminal's and we are in the foreground, the terminal's foreground, so Ctrl+C reaches
    the child once (from the terminal, not from us) and it may read the terminal.  It must
    happen here: once the child has exec'd, the parent may no longer move it (EACCES)."""
    def setup() -> None:
        os.setpgid(0, 0)
        if take_terminal:
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTTOU})
            try:
                os.tcsetpgrp(0, os.getpid())
            except OSError:
                pass
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTTOU})
        _set_parent_death_signal()
    return setup


def _take_terminal_back(pgrp: int | None) -> None:
    if pgrp is None:
        return
    old = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    try:
        os.tcsetpgrp(0, pgrp)
    except OSError:
        pass
    finally:
        signal.signal(signal.SIGTTOU, old)


class PtyPump:
    """The child on a pseudo-terminal (stdout is a terminal): colours, progress bars and
    prompts behave as without wbrun.  Our terminal goes raw and keystrokes are passed on, so
    Ctrl+C is delivered by the child's own terminal, once."""

    def __init__(self, argv: list[str], env: dict, log_path: str | None = None):
        import pty

        self.log_path = log_path  # where background jobs' output goes after the command
        self.master, slave = pty.openpty()
        _copy_window_size(sys.stdout.fileno(), self.master)
        forward_input = _is_foreground_tty(0)
        try:
            self.child = subprocess.Popen(
                argv, env=env, stdin=slave if forward_input else None, stdout=slave, stderr=slave,
                start_new_session=True, preexec_fn=_pty_session_setup(), close_fds=True)
        except OSError:
            os.close(self.master)
            raise
        finally:
            os.close(slave)
        self._saved_tty = _make_raw(0) if forward_input else None
        self._forward_input = forward_input

    def pump(self, recorder: OutputRecorder) -> int:
        stream = recorder.stream()
        selector = selectors.DefaultSelector()
        selector.register(self.master, selectors.EVENT_READ)
        if self._forward_input:
            selector.register(0, selectors.EVENT_READ)
        previous_winch = signal.signal(signal.SIGWINCH, lambda *_: _copy_window_size(
            sys.stdout.fileno(), self.master))
        held_open = False
        try:
            held_open = self._loop(selector, stream)
        finally:
            signal.signal(signal.SIGWINCH, previous_winch)
            selector.close()
            _restore_tty(0, self._saved_tty)
            stream.close()
            if held_open and self.log_path is not None:
                # a background job still holds the terminal: its output goes on (drain.py)
                from wandb_cli.runner.drain import hand_off

                hand_off({self.master: sys.stdout.fileno()}, self.log_path)
            os.close(self.master)
        return self.child.wait()

    def _suspend(self) -> None:
        """The command stopped (Ctrl+Z): give the user's terminal its modes back and stop
        with it, as the bare command would; when continued (`fg`), continue it."""
        if not self._forward_input:
            return
        _restore_tty(0, self._saved_tty)
        _stop_ourselves()
        self._saved_tty = _make_raw(0)
        _copy_window_size(sys.stdout.fileno(), self.master)
        _continue(self.child.pid)

    def _loop(self, selector, stream) -> bool:
        """Pump until the terminal closes (False) or the command has exited and 0.3 s
        passed while something still holds the terminal (True)."""
        exited_at = None
        while True:
            if _stopped(self.child.pid):
                self._suspend()
            for key, _ in selector.select(timeout=0.1):
                if key.fd == 0:
                    self._pass_input(selector)
                    continue
                data = _read_master(self.master)
                if data is None:
                    return False
                _write_all(sys.stdout.fileno(), data)
                stream.feed(data)
            if self.child.poll() is not None:
                # A background job may hold the terminal open: drain briefly, then go.
                exited_at = exited_at or time.monotonic()
                if time.monotonic() - exited_at > 0.3:
                    return True

    def _pass_input(self, selector) -> None:
        try:
            data = os.read(0, 4096)
        except OSError:
            data = b""
        if not data:
            selector.unregister(0)
            return
        _write_all(self.master, data)


def _stopped(pid: int) -> bool:
    """Whether the child has stopped since we last looked (its exit is left for wait())."""
    try:
        info = os.waitid(os.P_PID, pid, os.WSTOPPED | os.WNOHANG)
    except (ChildProcessError, OSError, AttributeError):
        return False
    return info is not None and info.si_code == os.CLD_STOPPED


def _stop_ourselves() -> None:
    """Stop wbrun's whole job (e.g. `wbrun ... | cat`) as the terminal's Ctrl+Z would; this
    returns once the shell continues it."""
    try:
        os.killpg(os.getpgrp(), signal.SIGTSTP)
    except OSError:
        os.kill(os.getpid(), signal.SIGSTOP)


def _continue(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGCONT)
    except OSError:
        try:
            os.kill(pid, signal.SIGCONT)
        except OSError:
            pass


def _read_master(fd: int) -> bytes | None:
    try:
        data = os.read(fd, READ_SIZE)
    except OSError as exc:
        if exc.errno == errno.EIO:  # every holder of the terminal closed it
            return None
        if exc.errno in (errno.EINTR, errno.EAGAIN):
            return b""
        raise
    return data or None


def _is_foreground_tty(fd: int) -> bool:
    try:
        return os.isatty(fd) and os.tcgetpgrp(fd) == os.getpgrp()
    except OSError:
        return False


def _make_raw(fd: int):
    import termios
    import tty

    try:
        saved = termios.tcgetattr(fd)
        tty.setraw(fd)
        return saved
    except termios.error:
        return None


def _restore_tty(fd: int, saved) -> None:
    if saved is None:
        return
    import termios

    try:
        termios.tcsetattr(fd, termios.TCSAFLUSH, saved)
    except termios.error:
        pass


def _copy_window_size(src: int, dst: int) -> None:
    import fcntl
    import termios

    try:
        size = fcntl.ioctl(src, termios.TIOCGWINSZ, b"\0" * 8)
        fcntl.ioctl(dst, termios.TIOCSWINSZ, size)
    except OSError:
        pass


def _write_all(fd: int, data: bytes) -> bool:
    """Write all of `data`; False when nobody reads `fd` any more (EPIPE: `| head` has
    exited).  A terminal that hung up (EIO) only ends the echo: True, and the child and the
    log carry on (SIGHUP, forwarded to the child, is what ends it, as at a shell)."""
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view):]
        except InterruptedError:
            continue
        except BlockingIOError:
            time.sleep(0.01)
        except BrokenPipeError:
            return False
        except OSError:
            return True
    return True
