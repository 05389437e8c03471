"""Reading what runs got: compare (filters, seed groups and their statistics), diff, the renderings
(render) and the charts (plot, boundary). Reads run folders through runstore only; no TensorFlow."""
