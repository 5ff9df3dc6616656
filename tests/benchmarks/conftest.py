def pytest_benchmark_update_machine_info(config, machine_info):
    """Saved runs say which TensorFlow and which device produced them."""
    from bench.keras.compat import environment

    env = environment()
    machine_info["bench"] = {k: env[k] for k in ("tensorflow", "keras", "devices", "cpu", "cuda")}
