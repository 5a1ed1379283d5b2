"""The estimators: scikit-learn's API over the families (:class:`BaseMixture` holds it all)."""
