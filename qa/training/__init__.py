"""Training of the learned parts (the span reader, the answer ranker) from SQuAD.

Nothing at question time imports this package: the runtime reader (:mod:`qa.reader`) and ranker
(:mod:`qa.answerer.ranker`) only load the weights these trainers write.
"""
