"""Reading graphs TensorFlow wrote: frozen GraphDefs (the compile command) and TF1 MetaGraphDefs
(tf.train.import_meta_graph). importer.py builds the nodes through ops.py's table of pygraph builders."""
