"""The extractive answerer: from retrieved passages to a verbatim, cited answer, or "not found".

One module per job, in the order a question goes through them:

* :mod:`~qa.answerer.types`: the span type of each stage, and the ``Reader`` and ``Answerer`` protocols;
* :mod:`~qa.answerer.corpus`: views of the index (term statistics, parsed sentences, sentence vectors);
* :mod:`~qa.answerer.sentences`: sentence scoring;
* :mod:`~qa.answerer.candidates`: candidate spans of a sentence;
* :mod:`~qa.answerer.scoring`: span scoring;
* :mod:`~qa.answerer.support`: support check, confidence and abstention;
* :mod:`~qa.answerer.tidy`: the final touches of an answer span;
* :mod:`~qa.answerer.citations`: document offsets, the quote and the citation;
* :mod:`~qa.answerer.rules`: the rule answerer;
* :mod:`~qa.answerer.features` and :mod:`~qa.answerer.ranker`: the learned ranker and its features;
* :mod:`~qa.answerer.extractive`: the default answerer, which combines the rules, the reader and the ranker.

Nothing is imported here, so that importing one module does not load the others.
"""
