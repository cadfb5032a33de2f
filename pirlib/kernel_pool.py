"""A kernel manager for `pir serve` that keeps a few kernels started, with pirlib already imported.

Most of a dashboard's server-side time is a new kernel starting and importing pandas, DuckDB, plotly and
ipywidgets (about 1 s of the 1.3 s), none of which depends on the data. So Voila gets kernels from a small
pool of started kernels that have imported ``preload`` (and run its ``warm_up()``, which reads no data)
and nothing else; the notebook itself still runs when the page is requested, so the page shows the
database as it is at that moment, and an idle pooled kernel holds no DuckDB connection (it has never
opened one).

Why not Voila's own ``--preheat_kernel``: it runs the whole notebook ahead of the request, so a pooled
page shows the data as it was when the pool filled (measured: a row written after the pool filled is
missing from the page). ``voila.utils.wait_for_request()`` before the loading cell avoids that, but the
cell then waits for as long as the kernel sits in the pool, the executor timeout (which must stay, see
docs/jupyter.md, Known traps) interrupts it after 15 s, and the kernel dies (the helper stops the kernel's event
loop on the interrupt): the page shows "An exception occurred at the server" and no figures. Here every
cell runs at request time under the normal timeout, and only the imports are done ahead.

``PromptKernelClient`` is the client Voila's executor gets: now and then (about one page load in five on a
busy machine here) the executor's wait for a cell's reply does not wake up when the reply arrives, and the
page stalls until the executor timeout fires (15 s; the "Executing N of M" stall of voila#1395, #1428).
Its channels wait in short slices and look again, so a missed wake-up costs at most one slice.

A pooled kernel started before its page was asked for, so the request's environment (Voila's ``QUERY_STRING``
and the other CGI-style variables a page reads its filters and URL from) is set in it when it is handed out,
by one silent ``os.environ.update`` before the notebook runs (a round trip of a few milliseconds).

A kernel handed out is an ordinary kernel from then on, with one exception: until its page has connected
to it (the page's widgets live in the kernel, so a board whose kernel is gone never draws), the idle
culler leaves it alone for up to ``page_connect_timeout``. After Voila has run the notebook, the browser
still loads and evaluates the page's scripts before it connects, and on a busy machine that can take
longer than a short ``cull_idle_timeout``: the kernel was culled under the page, which then showed its
header and nothing else (the soak test's 4 s timeout did that once in CI). Kernels starting or waiting in
the pool are never culled.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import time
from queue import Empty
from typing import Any

from jupyter_client.asynchronous import AsyncKernelClient
from jupyter_client.channels import AsyncZMQSocketChannel
from jupyter_client.utils import ensure_async
from jupyter_server._tz import utcnow
from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from jupyter_server.utils import ApiPath
from tornado.ioloop import IOLoop
from traitlets import Float, Int, List, Type, Unicode

POLL_SLICE_SECONDS = 0.25
# After a page connects to its kernel, its browser still builds the widgets and draws the figures (0.3-1 s
# of a board here): the page counts as being drawn for this long after its connection.
PAGE_DRAWN_SECONDS = 1.5
# What Voila puts in a page kernel's environment about its request (voila.utils.ENV_VARIABLE).
REQUEST_VARIABLES = (
    "QUERY_STRING",
    "SCRIPT_NAME",
    "PATH_INFO",
    "SERVER_NAME",
    "SERVER_PORT",
    "SERVER_SOFTWARE",
    "SERVER_PROTOCOL",
    "VOILA_BASE_URL",
    "VOILA_SERVER_URL",
    "VOILA_REQUEST_URL",
    "VOILA_APP_PORT",
    "VOILA_PREHEAT",
)


class PromptChannel(AsyncZMQSocketChannel):
    """A channel whose ``get_msg`` polls in slices: a wake-up the event loop misses costs one slice."""

    async def get_msg(self, timeout: float | None = None) -> dict:  # type: ignore[override]
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = POLL_SLICE_SECONDS
            if deadline is not None:
                left = max(0.0, min(POLL_SLICE_SECONDS, deadline - time.monotonic()))
            if await self.socket.poll(int(left * 1000)):
                return await self._recv()
            if deadline is not None and time.monotonic() >= deadline:
                raise Empty


class PromptKernelClient(AsyncKernelClient):
    shell_channel_class = Type(PromptChannel)
    iopub_channel_class = Type(PromptChannel)


class PooledKernelManager(AsyncMappingKernelManager):
    pool_size = Int(
        1, config=True, help="Started kernels kept ready (per kernel name and folder); 0 turns pooling off."
    )
    pool_path = Unicode("", config=True, help="The folder (API path) whose notebooks get pooled kernels.")
    preload = List(
        Unicode(),
        ["pirlib.ui.boards"],
        config=True,
        help="Modules a pooled kernel imports; a module's warm_up(), if it has one, is called after the import.",
    )
    fill_delay = Float(
        2.0,
        config=True,
        help="Seconds after a hand-out before a replacement starts, so that it does not compete for the CPU "
        "with the page being rendered.",
    )
    render_wait = Float(
        10.0,
        config=True,
        help="While the pool still holds a kernel for the next page, a replacement waits (after fill_delay) "
        "until no page given a kernel is still being drawn (its page not connected yet, or connected less than "
        f"{PAGE_DRAWN_SECONDS:g} s ago), for at most this many seconds.",
    )
    page_connect_timeout = Float(
        60.0,
        config=True,
        help="Seconds after a kernel is given to a page request during which the idle culler spares it while "
        "the page has not connected yet (it is still loading its scripts).",
    )
    closed_page_timeout = Float(
        15.0,
        config=True,
        help="Seconds after the last connection to a page's kernel closed (its tab was closed or reloaded) "
        "before that kernel is shut down, unless a connection comes back meanwhile; 0 leaves such kernels "
        "to the idle culler.",
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._ready: list[str] = []  # pooled kernel ids, started and preloaded, oldest first
        self._filling = 0
        self._tasks: set[asyncio.Task] = set()  # pool fills and closed-page shutdowns in progress
        self._started_pool = False
        self._closing: dict[str, asyncio.TimerHandle] = {}  # kernel id -> its pending shutdown (page closed)
        self._filling_ids: set[str] = set()  # started for the pool, still importing
        self._unconnected: dict[str, float] = {}  # kernel id -> monotonic hand-out time, until its page connects
        self._connected: dict[str, float] = {}  # kernel id -> monotonic time its page connected, while being drawn
        # Fill as soon as the server's event loop runs, so that the first page already finds a kernel.
        IOLoop.current().add_callback(self.start_pool)

    # --- the pool ------------------------------------------------------------------------------------

    def _pool_key_matches(self, kernel_name: str | None, path: ApiPath | None) -> bool:
        return (kernel_name or self.default_kernel_name) == self.default_kernel_name and (path or "") == self.pool_path

    def _schedule_fill(self, delay: float) -> None:
        missing = self.pool_size - len(self._ready) - self._filling
        for _ in range(max(missing, 0)):
            self._filling += 1
            task = asyncio.ensure_future(self._fill_one(delay))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _fill_one(self, delay: float) -> None:
        kernel_id = None
        try:
            await asyncio.sleep(delay)
            await self._wait_for_pages_drawn()
            kernel_id = await super().start_kernel(
                kernel_name=self.default_kernel_name, path=ApiPath(self.pool_path), env=dict(os.environ)
            )
            self._filling_ids.add(kernel_id)
            await self._preload(kernel_id)
            self._ready.append(kernel_id)
            self.log.info("Pooled kernel ready: %s (%d in the pool)", kernel_id, len(self._ready))
        except asyncio.CancelledError:
            raise
        except Exception:
            self.log.exception("Could not start a pooled kernel; pages start their own kernels meanwhile")
            if kernel_id is not None and kernel_id in self:
                await ensure_async(super().shutdown_kernel(kernel_id, now=True))
        finally:
            self._filling -= 1
            if kernel_id is not None:
                self._filling_ids.discard(kernel_id)

    async def _wait_for_pages_drawn(self) -> None:
        """Hold a replacement back while pages are being drawn and the pool still has a kernel for the next one.

        Starting a kernel and importing ``preload`` takes about 1.5 CPU-seconds, and ``fill_delay`` after a
        hand-out a board's page is often still being drawn: on a 2-core server the two shared the CPU, and the
        page that caused the refill paid for it. An empty pool is refilled at once: the next page would
        otherwise start a kernel of its own, which costs it more."""
        started = time.monotonic()
        while self._ready and self._pages_being_drawn() and time.monotonic() - started < self.render_wait:
            await asyncio.sleep(0.1)
        waited = time.monotonic() - started
        if waited >= 0.1:
            self.log.info("Refilling the pool after waiting %.1f s for pages being drawn", waited)

    def _pages_being_drawn(self) -> int:
        """Pages given a kernel that are still being drawn: not connected yet (within ``page_connect_timeout``),
        or connected less than ``PAGE_DRAWN_SECONDS`` ago."""
        now = time.monotonic()
        for kernel_id, connected in list(self._connected.items()):
            if now - connected >= PAGE_DRAWN_SECONDS:
                del self._connected[kernel_id]
        return sum(1 for handed in self._unconnected.values() if self._page_loading(handed, now)) + len(self._connected)

    def _page_loading(self, handed_out: float, now: float) -> bool:
        """Whether a kernel handed out at ``handed_out`` (monotonic) and not connected yet still waits for its page
        (``page_connect_timeout``): the culler spares it, and a refill waits for it."""
        return now - handed_out < self.page_connect_timeout

    async def _preload(self, kernel_id: str) -> None:
        """Import ``preload`` (and warm it up) in the kernel: silently (no output, no history); wait until done."""
        if not self.preload:
            return
        # Import each module, then call its warm_up() if it has one (first-use costs that do not depend on
        # the data, e.g. plotly's validators); names stay out of the user namespace.
        code = (
            "def _pir_preload(names):\n"
            "    import importlib\n"
            "    for name in names:\n"
            "        getattr(importlib.import_module(name), 'warm_up', lambda: None)()\n"
            f"_pir_preload({list(self.preload)!r})\n"
            "del _pir_preload\n"
        )
        try:
            await self._run_silently(kernel_id, code, timeout=120, ready_within=60)
        except RuntimeError as exc:
            raise RuntimeError(f"preloading {self.preload} failed: {exc}") from None

    async def _hand_over_request(self, kernel_id: str, env: dict) -> None:
        """Set the page request's variables (``REQUEST_VARIABLES``) in the pooled kernel's environment."""
        request = {name: str(env[name]) for name in REQUEST_VARIABLES if name in env}
        if not request:
            return
        await self._run_silently(kernel_id, f"__import__('os').environ.update({request!r})\n", timeout=10)

    async def _run_silently(self, kernel_id: str, code: str, timeout: float, ready_within: float | None = None) -> None:
        """Run ``code`` in the kernel without output or history and wait for its reply (``ready_within``: first
        wait that long for a kernel that has just started)."""
        client = self.get_kernel(kernel_id).client()
        client.start_channels()
        try:
            if ready_within is not None:
                await ensure_async(client.wait_for_ready(timeout=ready_within))
            msg_id = client.execute(code, silent=True, store_history=False)
            while True:
                reply = await ensure_async(client.get_shell_msg(timeout=timeout))
                if reply["parent_header"].get("msg_id") == msg_id:
                    break
            if reply["content"]["status"] != "ok":
                raise RuntimeError(f"kernel {kernel_id}: {reply['content'].get('evalue')}")
        finally:
            client.stop_channels()

    # --- the kernel manager interface ---------------------------------------------------------------

    # jupyter_client's AsyncMultiKernelManager makes start_kernel, shutdown_kernel and shutdown_all async by
    # assigning coroutines to the names; mypy still compares these with the synchronous MultiKernelManager ones.
    async def start_kernel(  # type: ignore[override]
        self, *, kernel_id: str | None = None, path: ApiPath | None = None, **kwargs: Any
    ) -> str:
        if not self._started_pool:
            self._started_pool = True
            self._schedule_fill(0)
        if kernel_id is None and self._pool_key_matches(kwargs.get("kernel_name"), path):
            while self._ready:
                pooled = self._ready.pop(0)
                if pooled in self and await ensure_async(self.get_kernel(pooled).is_alive()):
                    kernel = self.get_kernel(pooled)
                    # Its idle clock starts now, not when it was pooled, and the culler spares it from here on:
                    # out of the pool and not yet connected, a kernel taking the request's variables would
                    # otherwise look idle for as long as it sat in the pool.
                    # (jupyter_server adds last_activity to every kernel it manages; get_kernel's type omits it)
                    kernel.last_activity = utcnow()  # type: ignore[attr-defined]
                    self._unconnected[pooled] = time.monotonic()
                    try:
                        await self._hand_over_request(pooled, kwargs.get("env") or {})
                    except Exception:  # a kernel that cannot take the request's variables is no use to the page
                        self.log.exception("Pooled kernel %s did not take the request; shutting it down", pooled)
                        self._unconnected.pop(pooled, None)
                        if pooled in self:
                            with contextlib.suppress(Exception):
                                await ensure_async(super().shutdown_kernel(pooled, now=True))
                        continue
                    self.log.info("Using pooled kernel: %s", pooled)
                    self._schedule_fill(self.fill_delay)
                    return pooled
            self._schedule_fill(self.fill_delay)
        started = await super().start_kernel(kernel_id=kernel_id, path=path, **kwargs)
        if kernel_id is None:  # a new kernel for a page (an existing id is a restart, already connected)
            self._unconnected[started] = time.monotonic()
        return started

    def start_pool(self) -> None:
        """Fill the pool now (on the running event loop) instead of at the first page request."""
        if not self._started_pool:
            self._started_pool = True
            self._schedule_fill(0)

    async def cull_kernel_if_idle(self, kernel_id: str) -> None:
        spared = (
            kernel_id in self._filling_ids
            or kernel_id in self._ready
            or self._page_loading(self._unconnected.get(kernel_id, -math.inf), time.monotonic())
        )
        if spared and await ensure_async(self.get_kernel(kernel_id).is_alive()):
            return None
        if kernel_id in self._ready:
            self._ready.remove(kernel_id)  # died in the pool: let the culler clean it up, and replace it
            self._schedule_fill(0)
        return await super().cull_kernel_if_idle(kernel_id)

    async def shutdown_kernel(  # type: ignore[override]
        self, kernel_id: str, now: bool = False, restart: bool = False
    ) -> None:
        if kernel_id in self._ready:
            self._ready.remove(kernel_id)
        if not restart:
            self._cancel_closing(kernel_id)
            self._unconnected.pop(kernel_id, None)
            self._connected.pop(kernel_id, None)
        return await super().shutdown_kernel(kernel_id, now=now, restart=restart)

    async def shutdown_all(self, now: bool = False) -> None:  # type: ignore[override]
        # Kernels still starting are already registered, so the shutdown below reaches them too.
        self.pool_size = 0
        for task in list(self._tasks):
            task.cancel()
        for kernel_id in list(self._closing):
            self._cancel_closing(kernel_id)
        self._ready.clear()
        return await super().shutdown_all(now=now)

    # --- kernels of closed pages ---------------------------------------------------------------------
    # A Voila page's kernel serves that page only (a reload gets a new kernel), and its websocket closes with
    # the tab; Voila does not shut the kernel down then (voila#1458). The idle culler would, but only after
    # cull_idle_timeout, so a burst of views would pile up kernels for that long. Here a kernel whose last
    # connection closed is shut down closed_page_timeout later, unless a connection comes back first (a
    # page whose network dropped for a moment reconnects). A page still being rendered has not connected
    # yet and is not affected; neither are pooled kernels, which no page has connected to.

    def notify_connect(self, kernel_id: str) -> None:
        self._count_connections(kernel_id)
        if self._kernel_connections.get(kernel_id, 0) > 0:
            self._cancel_closing(kernel_id)
            if self._unconnected.pop(kernel_id, None) is not None:
                self._connected[kernel_id] = time.monotonic()

    def notify_disconnect(self, kernel_id: str) -> None:
        self._count_connections(kernel_id)
        if (
            self.closed_page_timeout > 0
            and self._kernel_connections.get(kernel_id) == 0
            and kernel_id not in self._closing
        ):
            self._closing[kernel_id] = asyncio.get_running_loop().call_later(
                self.closed_page_timeout, self._start_shutting_down, kernel_id
            )

    def _count_connections(self, kernel_id: str) -> None:
        """Set the kernel's connection count (which the idle culler reads too) to its open websockets.

        jupyter_server counts a notice of each connect and disconnect, and a page that hangs up while its
        websocket is still being prepared (a tab closed within a second of loading) breaks that count: the
        disconnect comes first, and then either nothing (the count stays at -1) or a connect from the dead
        socket (the count is 1 with nothing connected). Either way the kernel was neither culled nor shut
        down, ever (a CI soak run left one running). So the count is taken from the open websockets."""
        if kernel_id not in self._kernel_connections:
            return
        self._kernel_connections[kernel_id] = sum(
            1
            for handler in list(ZMQChannelsWebsocketConnection._open_sessions.values())
            if getattr(handler, "kernel_id", None) == kernel_id
            and handler.ws_connection is not None
            and not handler.ws_connection.is_closing()
        )

    def _cancel_closing(self, kernel_id: str) -> None:
        handle = self._closing.pop(kernel_id, None)
        if handle is not None:
            handle.cancel()

    def _start_shutting_down(self, kernel_id: str) -> None:
        task = asyncio.ensure_future(self._shut_down_closed_page(kernel_id))
        self._tasks.add(task)  # a reference until it is done (the loop keeps only a weak one)
        task.add_done_callback(self._tasks.discard)

    async def _shut_down_closed_page(self, kernel_id: str) -> None:
        self._closing.pop(kernel_id, None)
        if kernel_id not in self or self._kernel_connections.get(kernel_id, 0) > 0:
            return
        self.log.info("Shutting down kernel %s: its page closed %g s ago", kernel_id, self.closed_page_timeout)
        try:
            await self.shutdown_kernel(kernel_id)
        except Exception:  # already gone (culled, or the server is stopping): nothing left to do
            self.log.debug("Kernel %s was already shut down", kernel_id, exc_info=True)
