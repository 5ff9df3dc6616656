"""The post's numbers, transcribed (README.md here says from which line): shipped inside the
package as ``bench.golden_data`` and read with importlib.resources."""
