"""convviz: Keras-exact convolution arithmetic in NumPy."""
