"""Input and output data models: the bottom layer, importing nothing else from fedrender."""
