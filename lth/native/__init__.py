"""Native TensorFlow ops for what TensorFlow's own kernels do slowly on this CPU.

:func:`conv_pool` is K networks' first convolution (one input channel, 5x5) fused with the
2x2 max-pool after it (``conv_pool.cc``); :func:`grouped_conv_pool` a later 5x5 convolution of
few channels and its max-pool (``grouped_conv_pool.cc``); :func:`masked_adam` an Adam step with the
weight mask applied in the same pass (``masked_adam.cc``); :func:`dense_grad_masked_adam` the same
step of K dense layers' kernels with their weight gradients computed in that pass, never stored
(``dense_grad_masked_adam.cc``; both share ``adam_support.h``). All are AVX-512 code, compiled with
``g++`` the first time they are needed, against the installed TensorFlow's headers, into a cache
folder (``$LTH_NATIVE_CACHE``, default ``~/.cache/lth-native``) named by a hash of the sources, the
TensorFlow version and the flags; where the OS has ``flock``, a lock keeps two processes (a sweep's
Dask workers) from compiling at once. Nothing is compiled at import. :func:`available` says whether
the ops can be used here (:func:`unavailable_reason` why not): not on a CPU without AVX-512, where
compiling fails, or when ``LTH_NATIVE=0``; callers then use TensorFlow's own ops, which give the
same values up to round-off. :func:`conv_pool_fits` says which layers the convolution kernels take,
and :func:`used_by` whether a traced function runs any of these ops.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import warnings
from functools import lru_cache
from pathlib import Path

import tensorflow as tf

FOLDER = Path(__file__).parent
SOURCES = sorted(FOLDER.glob("*.cc"))
HEADERS = sorted(FOLDER.glob("*.h"))
ARCH_FLAGS = ["-mavx512f", "-mavx512bw", "-mavx512dq", "-mavx512vl", "-mfma"]


def _cpu_has_avx512() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return all(f" {flag}" in flags for flag in ("avx512f", "avx512bw", "avx512dq", "avx512vl"))


def _cache_dir() -> Path:
    root = os.environ.get("LTH_NATIVE_CACHE") or os.path.join(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"),
                                                             "lth-native")
    return Path(root)


def _command(output: Path) -> list[str]:
    # -ffp-contract=off: the ops compute the float operations as written (masked_adam matches TensorFlow's bits)
    return (["g++", "-std=c++17", "-O3", "-shared", "-fPIC", "-ffp-contract=off", "-Wno-deprecated-declarations",
             *ARCH_FLAGS, *map(str, SOURCES), "-o", str(output)]
            + tf.sysconfig.get_compile_flags() + tf.sysconfig.get_link_flags())


def build() -> Path:
    """Compile the ``*.cc`` files here into one library (once per source text, TensorFlow version and
    flags); its path."""
    texts = [path.read_text() for path in SOURCES + HEADERS]
    flags = [flag for flag in _command(Path("out")) if not flag.endswith(".cc")]  # not the checkout's path
    key = hashlib.sha256("\0".join([*texts, tf.__version__, *flags]).encode()).hexdigest()
    folder = _cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    library = folder / f"lth_native-{key[:16]}.so"
    with _build_lock(folder / "build.lock"):
        if not library.exists():
            partial = library.with_suffix(f".tmp{os.getpid()}")
            result = subprocess.run(_command(partial), capture_output=True, text=True)
            if result.returncode:
                partial.unlink(missing_ok=True)
                errors = [line for line in result.stderr.splitlines() if " error: " in line]
                raise RuntimeError(f"compiling {', '.join(p.name for p in SOURCES)} failed:\n"
                                   + "\n".join(errors[:20] or [result.stderr[-3000:]]))
            os.replace(partial, library)
    return library


@contextlib.contextmanager
def _build_lock(path: Path):
    """Hold an exclusive ``flock`` on ``path`` where the OS has one. Elsewhere no lock: two processes
    may then compile at once, which costs time but nothing else, since each writes its own file and
    renames it into place atomically."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    with open(path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


@lru_cache(maxsize=1)
def _ops():
    return tf.load_op_library(str(build()))


@lru_cache(maxsize=1)
def unavailable_reason() -> str | None:
    """Why the native ops cannot run here (``LTH_NATIVE=0``, no AVX-512, compiling or loading failed),
    or None if they can. Compiles them the first time it is asked (see :func:`build`)."""
    if os.environ.get("LTH_NATIVE", "1") == "0":
        return "turned off by LTH_NATIVE=0"
    if not _cpu_has_avx512():
        return "this CPU has no AVX-512 (or its flags cannot be read from /proc/cpuinfo)"
    try:
        _ops()
    except Exception as error:  # noqa: BLE001  (any failure means: use TensorFlow's ops)
        warnings.warn(f"lth.native is not available, TensorFlow's ops are used instead: {error}", stacklevel=3)
        return f"compiling or loading the ops failed: {str(error).splitlines()[0]}"
    return None


def available() -> bool:
    """Can the native ops run here? (An AVX-512 CPU, a working compiler, ``LTH_NATIVE`` not ``0``.)"""
    return unavailable_reason() is None


def used_by(function) -> bool:
    """Does the traced ``function`` (a ``tf.function``'s concrete function) run any of these ops,
    in its own graph or in the functions it calls (loop bodies, gradients)?"""
    graph = function.graph.as_graph_def()
    nodes = list(graph.node) + [node for f in graph.library.function for node in f.node_def]
    return any(node.op.startswith("Lth") for node in nodes)


FUSED_KERNEL = 5  # the fused ops convolve 5x5 with stride 1, then max-pool 2x2 with stride 2
MAX_SIDE = 32  # conv_pool: the convolution's output at most 32x32 (conv_pool.cc: MAX_OUT)
MAX_CHANNELS, MAX_FILTERS, MAX_WIDTH = 6, 16, 12  # grouped_conv_pool.cc: C, O, and the output's width


def conv_pool_fits(x_shape, kernel_shape, *, padding: str, strides, pool_size, pool_strides) -> bool:
    """Can one of the fused ops compute this convolution (``padding`` ``'SAME'`` or ``'VALID'``, ``strides``)
    followed by a max-pool (``pool_size``, ``pool_strides``, VALID) for K networks' kernels ``kernel_shape``
    ``[K, kh, kw, C, O]``?

    ``x_shape`` says which op: rank 5, ``[K, B, H, W, 1]`` or ``[1, B, H, W, 1]``, is :func:`conv_pool`'s
    input; rank 4, ``[B, H, W, K*C]``, :func:`grouped_conv_pool`'s. Both need an even output, at least
    2 on each side; :func:`conv_pool` one of at most 32x32, :func:`grouped_conv_pool` VALID padding,
    C <= 6, at most 16 filters and an output at most 12 wide. Shapes unknown when traced do not fit.
    """
    k, kh, kw, c, o = kernel_shape
    if ((kh, kw) != (FUSED_KERNEL, FUSED_KERNEL) or tuple(strides) != (1, 1) or tuple(pool_size) != (2, 2)
            or tuple(pool_strides) != (2, 2) or padding not in ("SAME", "VALID")):
        return False
    lost = FUSED_KERNEL - 1 if padding == "VALID" else 0  # rows and columns a VALID convolution loses
    if len(x_shape) == 5:
        outputs = [None if side is None else side - lost for side in x_shape[2:4]]
        return (x_shape[-1] == 1 and c == 1
                and all(side is not None and 2 <= side <= MAX_SIDE and side % 2 == 0 for side in outputs))
    if len(x_shape) == 4:
        height, width = [None if side is None else side - lost for side in x_shape[1:3]]
        return (padding == "VALID" and 1 <= c <= MAX_CHANNELS and 1 <= o <= MAX_FILTERS and x_shape[-1] == k * c
                and height is not None and width is not None and height >= 2 and height % 2 == 0
                and 2 <= width <= MAX_WIDTH and width % 2 == 0)
    return False


def _kernel_and_bias(kernel, bias, relu):
    """The convolutions' kernel ``[K, 5, 5, C, O]`` and bias ``[K*O]`` (zeros if None) as tensors; ``relu`` checked."""
    if not isinstance(relu, bool):
        raise TypeError(f"relu must be True or False, got {relu!r}")
    kernel = tf.convert_to_tensor(kernel)
    if bias is None:
        bias = tf.zeros([kernel.shape[0] * kernel.shape[-1]])
    return kernel, tf.convert_to_tensor(bias)


def conv_pool(x, kernel, padding: str, bias=None, relu: bool = False):
    """Max-pooled (2x2) convolution of K networks' inputs ``x [K, B, H, W, 1]`` with kernels ``[K, 5, 5, 1, O]``
    (or of one batch ``x [1, B, H, W, 1]`` that all K networks see).

    Returns ``[B, H'/2, W'/2, K*O]`` (network k's channels at ``k*O ... k*O + O - 1``): the pooled
    convolution plus ``bias`` (``[K*O]``; none if None), then ReLU if ``relu``, exactly as
    ``tf.nn.relu(tf.nn.bias_add(pooled, bias))``. Differentiable in ``kernel`` and ``bias`` only:
    ``x`` is taken as data.
    """
    if padding not in ("SAME", "VALID"):
        raise ValueError(f"padding must be 'SAME' or 'VALID', got {padding!r}")
    kernel, bias = _kernel_and_bias(kernel, bias, relu)
    ops = _ops()

    @tf.custom_gradient
    def run(kernel, bias):
        pooled, argmax = ops.lth_conv_pool(x, kernel, bias, padding=padding, relu=relu)

        def grad(upstream):
            return ops.lth_conv_pool_filter_grad(x, argmax, upstream, tf.shape(kernel), padding=padding)

        return pooled, grad

    return run(kernel, bias)


def grouped_conv_pool(x, kernel, bias=None, relu: bool = False, stacked_output: bool = False):
    """Max-pooled (2x2) VALID convolution of K networks' activations ``x [B, H, W, K*C]`` (network k's
    channels side by side) with kernels ``[K, 5, 5, C, O]``: ``[B, (H-4)/2, (W-4)/2, K*O]``, plus
    ``bias`` (``[K*O]``; none if None), then ReLU if ``relu``. Differentiable in all three.

    With ``stacked_output`` the result is ``[K, B, (H-4)/2, (W-4)/2, O]`` instead (the same values,
    network by network, as a Flatten before stacked dense layers wants them)."""
    kernel, bias = _kernel_and_bias(kernel, bias, relu)
    if not isinstance(stacked_output, bool):
        raise TypeError(f"stacked_output must be True or False, got {stacked_output!r}")
    ops = _ops()

    @tf.custom_gradient
    def run(x, kernel, bias):
        pooled, argmax = ops.lth_grouped_conv_pool(x, kernel, bias, relu=relu, stacked_output=stacked_output)

        def grad(upstream):
            return ops.lth_grouped_conv_pool_grad(x, kernel, argmax, upstream, stacked_output=stacked_output)

        return pooled, grad

    return run(tf.convert_to_tensor(x), kernel, bias)


def masked_adam(variable, m, v, *, beta1_power, beta2_power, lr, beta1, beta2, epsilon, grad, mask):
    """One Adam step of resource variable ``variable`` (slots ``m``, ``v``) then ``variable *= mask``, in
    one pass: exactly ``tf.raw_ops.ResourceApplyAdam`` followed by the mask multiply."""
    return _ops().lth_masked_adam(variable.handle, m.handle, v.handle, beta1_power, beta2_power, lr, beta1, beta2,
                                  epsilon, grad, mask)


def dense_grad_masked_adam(variable, m, v, *, beta1_power, beta2_power, lr, beta1, beta2, epsilon, inputs,
                           output_grads, mask=None):
    """One Adam step of K dense layers' stacked kernels ``variable [K, N, M]`` whose gradient is
    ``inputs [K, B, N]`` transposed times ``output_grads [K, B, M]`` (the loss's gradient with respect to
    ``inputs @ variable``), then ``variable *= mask`` (none if None): the values of
    :func:`masked_adam` (or ``ResourceApplyAdam``) on that matmul's result up to its round-off, in one
    pass that never stores the gradient."""
    mask = tf.zeros([0]) if mask is None else mask
    return _ops().lth_dense_grad_masked_adam(variable.handle, m.handle, v.handle, beta1_power, beta2_power, lr, beta1,
                                             beta2, epsilon, inputs, output_grads, mask)
