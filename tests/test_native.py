"""lth.native's fused convolution + max-pool ops equal TensorFlow's ops, in values and gradients."""
import numpy as np
import pytest
import tensorflow as tf

from lth import models, native, stacked

needs_native = pytest.mark.skipif(not native.available(),
                                  reason=f"lth.native does not run here: {native.unavailable_reason()}")


@pytest.fixture
def fresh_native(monkeypatch, tmp_path):
    """lth.native as in a new process, with an empty build cache."""
    monkeypatch.setenv("LTH_NATIVE_CACHE", str(tmp_path))
    native.unavailable_reason.cache_clear()
    native._ops.cache_clear()
    yield
    native.unavailable_reason.cache_clear()
    native._ops.cache_clear()


def test_unavailable_with_a_warning_when_compiling_fails(fresh_native, monkeypatch):
    monkeypatch.setattr(native, "_cpu_has_avx512", lambda: True)
    monkeypatch.setattr(native, "_command", lambda output: ["false"])  # a compiler that always fails
    with pytest.warns(UserWarning, match="lth.native is not available, TensorFlow's ops are used instead"):
        assert not native.available()
    assert native.unavailable_reason().startswith("compiling or loading the ops failed")


def test_turned_off_by_environment_or_cpu(fresh_native, monkeypatch):
    monkeypatch.setenv("LTH_NATIVE", "0")
    assert not native.available() and native.unavailable_reason() == "turned off by LTH_NATIVE=0"
    native.unavailable_reason.cache_clear()
    monkeypatch.setenv("LTH_NATIVE", "1")
    monkeypatch.setattr(native, "_cpu_has_avx512", lambda: False)
    assert "no AVX-512" in native.unavailable_reason()


def test_importing_compiles_nothing_and_needs_no_fcntl(tmp_path):
    """A fresh interpreter without fcntl (as on Windows) and without g++ on its PATH imports lth,
    lth.training and lth.native and compiles nothing; the build lock then is no lock."""
    import os
    import subprocess
    import sys

    cache = tmp_path / "cache"
    script = ("import sys; sys.modules['fcntl'] = None\n"  # `import fcntl` now raises ImportError
              "import lth, lth.native, lth.training, lth.engines\n"
              f"with lth.native._build_lock({str(tmp_path / 'build.lock')!r}):\n"
              "    print('imported')\n")
    env = dict(os.environ, LTH_NATIVE_CACHE=str(cache), PATH="/nonexistent")
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "imported" in done.stdout, done.stderr[-2000:]
    assert not cache.exists() and not (tmp_path / "build.lock").exists()


@pytest.mark.parametrize("x_shape, kernel_shape, padding, fits", [
    ((2, 3, 28, 28, 1), (2, 5, 5, 1, 6), "SAME", True),  # LeNet-5's first convolution
    ((1, 3, 28, 28, 1), (2, 5, 5, 1, 6), "SAME", True),  # one batch seen by both networks
    ((2, 3, 32, 32, 1), (2, 5, 5, 1, 6), "VALID", True),
    ((2, 3, 36, 36, 1), (2, 5, 5, 1, 6), "SAME", False),  # output wider than 32
    ((2, 3, 27, 27, 1), (2, 5, 5, 1, 6), "SAME", False),  # odd output
    ((2, 3, 28, 28, 3), (2, 5, 5, 3, 6), "SAME", False),  # colour input
    ((2, 3, None, 28, 1), (2, 5, 5, 1, 6), "SAME", False),  # unknown height
    ((2, 3, 28, 28, 1), (2, 3, 3, 1, 6), "SAME", False),  # 3x3 kernel
    ((3, 14, 14, 12), (2, 5, 5, 6, 16), "VALID", True),  # LeNet-5's second, grouped
    ((3, 14, 14, 12), (2, 5, 5, 6, 16), "SAME", False),
    ((3, 14, 14, 14), (2, 5, 5, 7, 16), "VALID", False),  # 7 channels
    ((3, 14, 14, 12), (2, 5, 5, 6, 17), "VALID", False),  # 17 filters
    ((3, 14, 18, 12), (2, 5, 5, 6, 16), "VALID", False),  # output 14 wide
    ((3, 14, 14, 10), (2, 5, 5, 6, 16), "VALID", False),  # channels are not K*C
])
def test_conv_pool_fits_states_the_kernels_limits(x_shape, kernel_shape, padding, fits):
    kwargs = dict(padding=padding, strides=(1, 1), pool_size=(2, 2), pool_strides=(2, 2))
    assert native.conv_pool_fits(x_shape, kernel_shape, **kwargs) is fits
    if fits:  # the pool and stride are part of what the ops compute
        assert not native.conv_pool_fits(x_shape, kernel_shape, **kwargs | {"strides": (2, 2)})
        assert not native.conv_pool_fits(x_shape, kernel_shape, **kwargs | {"pool_size": (3, 3)})


def _reference(x, kernel, padding):
    """TensorFlow's grouped convolution then max-pool, as lth.stacked runs them without the native op."""
    k, b, h, w, _ = x.shape
    grouped = tf.reshape(tf.transpose(x, [1, 2, 3, 0, 4]), [b, h, w, k])
    flat = tf.reshape(tf.transpose(kernel, [1, 2, 3, 0, 4]), [5, 5, 1, k * kernel.shape[-1]])
    return tf.nn.max_pool2d(tf.nn.conv2d(grouped, flat, 1, padding), 2, 2, "VALID")


def _inputs(k, b, side, filters, seed=0):
    rng = np.random.default_rng(seed)
    pixels = rng.random((k, b, side, side, 1)) * (rng.random((k, b, side, side, 1)) > 0.6)  # sparse, like MNIST
    return (tf.constant(pixels.astype("float32")),
            tf.Variable(rng.standard_normal((k, 5, 5, 1, filters)).astype("float32")))


@needs_native
@pytest.mark.parametrize("k, b, side, filters, padding, bias, relu", [
    (3, 7, 28, 6, "SAME", False, False), (2, 5, 28, 6, "VALID", False, False), (1, 4, 12, 8, "SAME", False, False),
    (2, 3, 32, 5, "VALID", False, False), (3, 7, 28, 6, "SAME", True, True), (2, 5, 28, 6, "VALID", True, False),
    (2, 3, 12, 5, "SAME", False, True)])
def test_values_and_gradients_match_tensorflow(k, b, side, filters, padding, bias, relu):
    """With bias and ReLU, as lth.stacked runs its first convolution: exactly relu(bias_add(pooled, bias))."""
    x, kernel = _inputs(k, b, side, filters)
    # biases around the pooled values' median, so ReLU zeroes a good share of the outputs
    offsets = tf.Variable(-np.median(_reference(x, kernel, padding).numpy()) + np.random.default_rng(2).standard_normal(
        k * filters).astype("float32") if bias else np.zeros(k * filters, "float32"))

    def reference(x, kernel, padding):
        pooled = tf.nn.bias_add(_reference(x, kernel, padding), offsets)
        return tf.nn.relu(pooled) if relu else pooled

    def fused(x, kernel, padding):
        return native.conv_pool(x, kernel, padding, bias=offsets if bias else None, relu=relu)

    upstream = tf.constant(np.random.default_rng(1).standard_normal(_reference(x, kernel, padding).shape), tf.float32)
    results = {}
    for name, fn in (("tf", reference), ("native", fused)):
        with tf.GradientTape() as tape:
            pooled = fn(x, kernel, padding)
            loss = tf.reduce_sum(pooled * upstream)
        grads = tape.gradient(loss, [kernel, offsets], unconnected_gradients=tf.UnconnectedGradients.ZERO)
        results[name] = pooled.numpy(), *[g.numpy() for g in grads]
    (tf_pooled, tf_grad, tf_bias_grad), (native_pooled, native_grad, native_bias_grad) = results.values()
    assert native_pooled.shape == tf_pooled.shape
    if relu:
        assert 0.2 < (tf_pooled == 0).mean() < 0.9  # the ReLU does cut off outputs
    np.testing.assert_allclose(native_pooled, tf_pooled, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(native_grad, tf_grad, rtol=1e-4, atol=1e-4 * np.abs(tf_grad).max())
    if bias:
        np.testing.assert_allclose(native_bias_grad, tf_bias_grad, rtol=1e-4, atol=1e-4 * np.abs(tf_bias_grad).max())


@needs_native
def test_gradient_goes_to_the_first_of_equal_maxima():
    """Ties: an identity kernel on an image constant on each 2x2 block makes all four values of every
    block equal; the gradient is then taken at each block's top-left value (row-major first)."""
    rng = np.random.default_rng(0)
    blocks = rng.random((6, 6)).astype("float32")
    image = np.kron(blocks, np.ones((2, 2), "float32"))  # 12x12, constant on each 2x2 block
    kernel = np.zeros((1, 5, 5, 1, 1), "float32")
    kernel[0, 2, 2, 0, 0] = 1.0  # the centre tap: the convolution is the image itself
    upstream = rng.standard_normal((6, 6)).astype("float32")
    kernel_var = tf.Variable(kernel)
    with tf.GradientTape() as tape:
        pooled = native.conv_pool(tf.constant(image[None, None, :, :, None]), kernel_var, "SAME")
        loss = tf.reduce_sum(pooled[0, :, :, 0] * upstream)
    np.testing.assert_array_equal(pooled.numpy()[0, :, :, 0], blocks)
    padded = np.pad(image, 2)
    expected = np.array([[sum(upstream[p, q] * padded[2 * p + i, 2 * q + j] for p in range(6) for q in range(6))
                          for j in range(5)] for i in range(5)])
    np.testing.assert_allclose(tape.gradient(loss, kernel_var).numpy()[0, :, :, 0, 0], expected, rtol=1e-5, atol=1e-6)


@needs_native
def test_one_batch_for_all_networks_is_the_batch_repeated():
    """x [1, B, H, W, 1] (evaluation: every network sees the same images) gives the bits of that batch
    repeated K times, values and kernel gradients."""
    x, kernel = _inputs(1, 5, 28, 6)
    kernel = tf.Variable(np.random.default_rng(4).standard_normal((3, 5, 5, 1, 6)).astype("float32"))
    upstream = tf.constant(np.random.default_rng(5).standard_normal((5, 14, 14, 18)).astype("float32"))
    results = []
    for inputs in (x, tf.repeat(x, 3, axis=0)):
        with tf.GradientTape() as tape:
            pooled = native.conv_pool(inputs, kernel, "SAME", relu=True)
            loss = tf.reduce_sum(pooled * upstream)
        results.append([pooled.numpy(), tape.gradient(loss, kernel).numpy()])
    assert results[0][0].shape == (5, 14, 14, 18)
    for shared, repeated in zip(*results):
        assert np.array_equal(shared, repeated)


@needs_native
def test_bad_shapes_are_refused_with_their_sizes():
    x, kernel = _inputs(2, 3, 28, 6)
    with pytest.raises(tf.errors.InvalidArgumentError, match="kernel must be"):
        native.conv_pool(x, kernel[:1], "SAME")
    with pytest.raises(tf.errors.InvalidArgumentError, match="even and between 2 and 32.*27x27"):
        native.conv_pool(x[:, :, :27, :27], kernel, "SAME")
    with pytest.raises(ValueError, match="padding must be 'SAME' or 'VALID', got 'same'"):
        native.conv_pool(x, kernel, "same")
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"bias must be \[K\*O\] = \[12\], got \[6\]"):
        native.conv_pool(x, kernel, "SAME", bias=tf.zeros([6]))
    with pytest.raises(TypeError, match="relu must be True or False, got 1"):
        native.conv_pool(x, kernel, "SAME", relu=1)


def _grouped_reference(x, kernel):
    k, _, _, c, o = kernel.shape
    flat = tf.reshape(tf.transpose(kernel, [1, 2, 3, 0, 4]), [5, 5, c, k * o])
    return tf.nn.max_pool2d(tf.nn.conv2d(x, flat, 1, "VALID"), 2, 2, "VALID")


@needs_native
@pytest.mark.parametrize("k, b, side, c, o, bias, relu", [
    (3, 5, (14, 14), 6, 16, False, False), (2, 3, (10, 8), 2, 5, False, False), (1, 2, (16, 16), 6, 16, False, False),
    (3, 5, (14, 14), 6, 16, True, True), (2, 3, (10, 8), 2, 5, True, False), (2, 4, (14, 14), 6, 16, False, True)])
def test_grouped_values_and_all_gradients_match_tensorflow(k, b, side, c, o, bias, relu):
    """With bias and ReLU, as lth.stacked runs LeNet-5's second convolution: relu(bias_add(pooled, bias))."""
    rng = np.random.default_rng(2)
    x = tf.Variable(np.maximum(rng.standard_normal((b, *side, k * c)), 0).astype("float32"))  # ReLU outputs
    kernel = tf.Variable(rng.standard_normal((k, 5, 5, c, o)).astype("float32"))
    median = np.median(_grouped_reference(x, kernel).numpy())  # biases around it: ReLU zeroes a good share
    offsets = tf.Variable((-median + rng.standard_normal(k * o)).astype("float32") if bias
                          else np.zeros(k * o, "float32"))

    def reference(x, kernel):
        pooled = tf.nn.bias_add(_grouped_reference(x, kernel), offsets)
        return tf.nn.relu(pooled) if relu else pooled

    def fused(x, kernel):
        return native.grouped_conv_pool(x, kernel, bias=offsets if bias else None, relu=relu)

    upstream = tf.constant(rng.standard_normal(_grouped_reference(x, kernel).shape).astype("float32"))
    results = {}
    for name, fn in (("tf", reference), ("native", fused)):
        with tf.GradientTape() as tape:
            pooled = fn(x, kernel)
            loss = tf.reduce_sum(pooled * upstream)
        grads = tape.gradient(loss, [x, kernel, offsets], unconnected_gradients=tf.UnconnectedGradients.ZERO)
        results[name] = [pooled.numpy()] + [g.numpy() for g in grads]
    if relu:
        assert 0.05 < (results["tf"][0] == 0).mean() < 0.95  # the ReLU does cut off outputs
    for ours, theirs in zip(results["native"], results["tf"] if bias else results["tf"][:3]):
        assert ours.shape == theirs.shape
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4 * np.abs(theirs).max())


@needs_native
def test_grouped_stacked_output_is_the_grouped_output_network_by_network():
    """stacked_output=True: [K, B, H', W', O], the same bits as the grouped layout transposed, and so the same
    gradients for an upstream gradient laid out the same way."""
    rng = np.random.default_rng(3)
    k, b, c, o = 3, 4, 6, 16
    x = tf.Variable(np.maximum(rng.standard_normal((b, 14, 14, k * c)), 0).astype("float32"))
    kernel = tf.Variable(rng.standard_normal((k, 5, 5, c, o)).astype("float32"))
    bias = tf.Variable(rng.standard_normal(k * o).astype("float32"))
    upstream = rng.standard_normal((k, b, 5, 5, o)).astype("float32")
    results = {}
    for stacked_output in (False, True):
        with tf.GradientTape() as tape:
            pooled = native.grouped_conv_pool(x, kernel, bias=bias, relu=True, stacked_output=stacked_output)
            if not stacked_output:
                pooled = tf.transpose(tf.reshape(pooled, [b, 5, 5, k, o]), [3, 0, 1, 2, 4])
            loss = tf.reduce_sum(pooled * upstream)
        results[stacked_output] = [pooled.numpy()] + [g.numpy() for g in tape.gradient(loss, [x, kernel, bias])]
    assert results[True][0].shape == (k, b, 5, 5, o)
    assert 0.05 < (results[True][0] == 0).mean() < 0.95
    for ours, theirs in zip(results[True], results[False]):
        assert np.array_equal(ours, theirs)
    with pytest.raises(TypeError, match="stacked_output must be True or False, got 1"):
        native.grouped_conv_pool(x, kernel, stacked_output=1)


@needs_native
def test_grouped_shapes_out_of_its_limits_are_refused():
    kernel = tf.zeros((2, 5, 5, 7, 16))
    with pytest.raises(tf.errors.InvalidArgumentError, match="C must be 1 to 6 and O 1 to 16, got C=7"):
        native.grouped_conv_pool(tf.zeros((1, 14, 14, 14)), kernel)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"x must be \[B, H, W, K\*C\] = \[B, H, W, 12\]"):
        native.grouped_conv_pool(tf.zeros((1, 14, 14, 6)), tf.zeros((2, 5, 5, 6, 16)))
    with pytest.raises(tf.errors.InvalidArgumentError, match="at most 12 wide, got 10x14"):
        native.grouped_conv_pool(tf.zeros((1, 14, 18, 12)), tf.zeros((2, 5, 5, 6, 16)))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"bias must be \[K\*O\] = \[32\], got \[16\]"):
        native.grouped_conv_pool(tf.zeros((1, 14, 14, 12)), tf.zeros((2, 5, 5, 6, 16)), bias=tf.zeros([16]))
    with pytest.raises(TypeError, match="relu must be True or False, got 'yes'"):
        native.grouped_conv_pool(tf.zeros((1, 14, 14, 12)), tf.zeros((2, 5, 5, 6, 16)), relu="yes")


@needs_native
def test_stacked_lenet5_runs_both_convolutions_natively():
    nets = [models.build("lenet5", seed=i) for i in range(2)]
    x = tf.zeros((2, 3, 28, 28, 1))
    for use_native in (True, False):
        net = stacked.StackedNetwork(nets, native=use_native)
        assert net._fused_op_fits(0, x) is use_native and net._fused_op_fits(2, tf.zeros((3, 14, 14, 12))) is use_native
        ops = {op.type for op in tf.function(net.__call__).get_concrete_function(x).graph.get_operations()}
        if use_native:
            assert {"LthConvPool", "LthGroupedConvPool"} <= ops and not {"Conv2D", "MaxPool"} & ops
        else:
            assert not any(op.startswith("Lth") for op in ops) and {"Conv2D", "MaxPool"} <= ops
    with pytest.raises(TypeError, match="native must be True or False, got 'yes'"):
        stacked.StackedNetwork(nets, native="yes")


def _adam_inputs(shape, seed=0):
    rng = np.random.default_rng(seed)
    start = [rng.standard_normal(shape).astype("float32"), 0.1 * rng.standard_normal(shape).astype("float32"),
             0.01 * np.abs(rng.standard_normal(shape)).astype("float32")]
    mask = tf.constant((rng.random(shape) < 0.3).astype("float32"))
    grads = [tf.constant(rng.standard_normal(shape).astype("float32")) for _ in range(3)]
    return start, mask, grads


@needs_native
@pytest.mark.parametrize("shape", [(4, 784, 300), (3, 7, 5), (1,), (2, 17)])
def test_masked_adam_is_tensorflows_adam_then_the_mask_bit_for_bit(shape):
    start, mask, grads = _adam_inputs(shape)
    finals = []
    for fused in (False, True):
        var, m, v = (tf.Variable(a) for a in start)
        for step, grad in enumerate(grads, 1):
            scalars = dict(beta1_power=tf.constant(0.9 ** step), beta2_power=tf.constant(0.999 ** step),
                           lr=tf.constant(0.0123), beta1=tf.constant(0.9), beta2=tf.constant(0.999),
                           epsilon=tf.constant(1e-7))
            if fused:
                native.masked_adam(var, m, v, grad=grad, mask=mask, **scalars)
            else:
                tf.raw_ops.ResourceApplyAdam(var=var.handle, m=m.handle, v=v.handle, grad=grad, **scalars)
                var.assign(var * mask)
        finals.append([a.numpy() for a in (var, m, v)])
    for reference, fused in zip(*finals):
        np.testing.assert_array_equal(reference, fused)
    assert (finals[1][0][mask.numpy() == 0] == 0).all()


@needs_native
def test_masked_adam_refuses_mismatched_shapes():
    var, m, v = (tf.Variable(tf.zeros((3, 4))) for _ in range(3))
    scalars = {name: tf.constant(0.5) for name in ("beta1_power", "beta2_power", "lr", "beta1", "beta2", "epsilon")}
    with pytest.raises((tf.errors.InvalidArgumentError, ValueError), match=r"\[3,4\].*\[4,3\]|4,3"):
        native.masked_adam(var, m, v, grad=tf.zeros((3, 4)), mask=tf.ones((4, 3)), **scalars)


def _scalars(step):
    return dict(beta1_power=tf.constant(0.9 ** step), beta2_power=tf.constant(0.999 ** step), lr=tf.constant(0.0123),
                beta1=tf.constant(0.9), beta2=tf.constant(0.999), epsilon=tf.constant(1e-7))


@needs_native
@pytest.mark.parametrize("k, batch, n, m", [(2, 5, 13, 37), (1, 3, 8, 20), (3, 4, 5, 7), (2, 60, 24, 300)])
@pytest.mark.parametrize("masked", [True, False])
def test_dense_grad_masked_adam_is_the_matmul_then_the_adam_step_bit_for_bit(k, batch, n, m, masked):
    """Inputs and output gradients of small integers: every order of summing x^T dy gives the same exact
    gradient, so the fused op must match the matmul + masked Adam (or TensorFlow's Adam) bit for bit.
    The shapes cover partial row tiles (n % 8) and column tails of one and two vectors."""
    rng = np.random.default_rng(k * n + m)
    start, mask, _ = _adam_inputs((k, n, m), seed=n)
    mask = mask if masked else None
    steps = [(tf.constant(rng.integers(-3, 4, (k, batch, n)).astype("float32")),
              tf.constant(rng.integers(-3, 4, (k, batch, m)).astype("float32") / 64)) for _ in range(3)]
    finals = []
    for fused in (False, True):
        var, mom, vel = (tf.Variable(a) for a in start)
        for step, (inputs, output_grads) in enumerate(steps, 1):
            if fused:
                native.dense_grad_masked_adam(var, mom, vel, inputs=inputs, output_grads=output_grads, mask=mask,
                                              **_scalars(step))
            elif masked:
                native.masked_adam(var, mom, vel, grad=tf.matmul(inputs, output_grads, transpose_a=True), mask=mask,
                                   **_scalars(step))
            else:
                tf.raw_ops.ResourceApplyAdam(var=var.handle, m=mom.handle, v=vel.handle,
                                             grad=tf.matmul(inputs, output_grads, transpose_a=True), **_scalars(step))
        finals.append([a.numpy() for a in (var, mom, vel)])
    for reference, fused in zip(*finals):
        np.testing.assert_array_equal(reference, fused)


@needs_native
def test_dense_grad_masked_adam_on_real_values_is_the_matmul_up_to_round_off():
    rng = np.random.default_rng(3)
    start, mask, _ = _adam_inputs((2, 784, 300))
    inputs = tf.constant(rng.random((2, 60, 784), dtype=np.float32))
    output_grads = tf.constant(0.01 * rng.standard_normal((2, 60, 300)).astype("float32"))
    ours, theirs = [tf.Variable(a) for a in start], [tf.Variable(a) for a in start]
    native.dense_grad_masked_adam(*ours, inputs=inputs, output_grads=output_grads, mask=mask, **_scalars(1))
    native.masked_adam(*theirs, grad=tf.matmul(inputs, output_grads, transpose_a=True), mask=mask, **_scalars(1))
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)


@needs_native
def test_dense_grad_masked_adam_refuses_mismatched_shapes():
    var, m, v = (tf.Variable(tf.zeros((2, 3, 4))) for _ in range(3))
    scalars = {name: tf.constant(0.5) for name in ("beta1_power", "beta2_power", "lr", "beta1", "beta2", "epsilon")}
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"x must be \[K, B, N\].*\[2,5,3\]"):
        native.dense_grad_masked_adam(var, m, v, inputs=tf.zeros((2, 5, 3)), output_grads=tf.zeros((2, 6, 4)),
                                      **scalars)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"mask \(unless empty\).*\[3,4\]"):
        native.dense_grad_masked_adam(var, m, v, inputs=tf.zeros((2, 5, 3)), output_grads=tf.zeros((2, 5, 4)),
                                      mask=tf.ones((3, 4)), **scalars)


@needs_native
def test_stacked_training_steps_fixed_masks_with_masked_adam(mnist_small):
    """Fixed-mask networks' kernels take lth.native's masked Adam; biases (unmasked) TensorFlow's Adam."""
    from lth import engines, pruning, training
    from lth.hparams import TrainingHparams

    trainees = []
    for i in range(2):
        net = models.build("lenet300", seed=i)
        wrapped = pruning.wrap_at_density(net, models.prunable_layers("lenet300", net), 0.3)
        trainees.append(training.Trainee(wrapped, seed=i, hold_masks=True))
    hp = TrainingHparams(iterations=4, eval_every=4, batch_size=32)
    x, y = tf.constant(mnist_small.features(mnist_small.train)), tf.constant(mnist_small.train.y)

    def step_ops(native_ops):
        engine = engines.StackedEngine(trainees, x, y, hp, native_ops)
        step = engine.chunk((0, 1)).get_concrete_function()
        library = step.graph.as_graph_def().library.function
        return engine, [node.op for function in library for node in function.node_def]

    engine, ops = step_ops(engines.NativeOps())  # the dense kernels' gradients computed inside their Adam steps
    assert ops.count("LthDenseGradMaskedAdam") == 3 and ops.count("ResourceApplyAdam") == 3
    assert ops.count("LthMaskedAdam") == 0 and engine.native_ops
    engine, ops = step_ops(engines.NativeOps(dense_gradients=False))  # the gradients first, then masked Adam
    assert ops.count("LthDenseGradMaskedAdam") == 0 and ops.count("LthMaskedAdam") == 3
    assert ops.count("ResourceApplyAdam") == 3 and engine.native_ops
    # off (as bench/masked_adam.py compares): TensorFlow's Adam for all six, then the multiply
    engine, ops = step_ops(engines.NativeOps.none())
    assert ops.count("LthDenseGradMaskedAdam") == 0 and ops.count("ResourceApplyAdam") == 6
    assert not engine.native_ops
