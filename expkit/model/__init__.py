"""Config -> compiled Keras model. Imports Keras; only the build and train commands load it."""
