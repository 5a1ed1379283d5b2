"""Errors raised by distgmm.

Every error subclasses :class:`DistGMMError`, itself a :class:`ValueError`, so code written
against scikit-learn's ``except ValueError`` keeps working.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sklearn.exceptions import ConvergenceWarning

__all__ = [
    "ConvergenceWarning",
    "DistGMMError",
    "EmptyComponentError",
    "InvalidInputError",
    "NoWorkerError",
    "SchedulerLostError",
    "SingularCovarianceError",
]

_FIX = (
    "Try to decrease the number of components, increase reg_covar, "
    "use another initialisation (init_params, random_state) or scale the input data."
)
#: scikit-learn's sentence for a covariance that cannot be inverted, kept word for word so that
#: code matching scikit-learn's message keeps working.
SKLEARN_ILL_DEFINED = (
    "Fitting the mixture model failed because some components have ill-defined empirical "
    "covariance (for instance caused by singleton or collapsed samples). Try to decrease the "
    "number of components, increase reg_covar, or scale the input data."
)


def __getattr__(name: str):
    # scikit-learn's own warning class, imported on first use: importing scikit-learn costs
    # ~100 MB, which every worker process would pay just to run the kernels.
    if name == "ConvergenceWarning":
        from sklearn.exceptions import ConvergenceWarning

        return ConvergenceWarning
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class DistGMMError(ValueError):
    """Base class of every error distgmm raises on purpose."""


class SchedulerLostError(ConnectionError):
    """The Dask client lost its scheduler during a fit; the cluster's state is gone with it.

    A ``ConnectionError``, not a :class:`DistGMMError`: nothing was wrong with the input or
    the model. A fit with a ``checkpoint`` can be resumed on a new cluster.
    """


class NoWorkerError(ConnectionError):
    """The Dask cluster had no worker for ``distributed.scheduler.no-workers-timeout``.

    Raised by a computation of distgmm that waited on the cluster that long (2 minutes when
    the setting is unset) with no worker to run its tasks: every worker died or left, and
    none came back. A ``ConnectionError``, like :class:`SchedulerLostError`: nothing was
    wrong with the input or the model. A fit with a ``checkpoint`` can be resumed once the
    cluster has workers again.

    Parameters
    ----------
    timeout : float
        The seconds without any worker after which the wait was given up.
    """

    def __init__(self, timeout: float) -> None:
        super().__init__(timeout)  # the only argument: a pickled copy is rebuilt from it

    @property
    def timeout(self) -> float:
        return self.args[0]

    def __str__(self) -> str:
        return (
            f"The Dask cluster had no worker for {self.timeout:g} s "
            "(distributed.scheduler.no-workers-timeout): every worker died or left, and none "
            "came back."
        )


class InvalidInputError(DistGMMError):
    """The data or sample weights cannot be fitted as given (shape, dtype, NaN, size)."""


class FitError(DistGMMError):
    """The EM iterations cannot continue from the current parameters."""


class SingularCovarianceError(FitError):
    """A component's covariance is not positive definite, even after ``reg_covar``.

    Parameters
    ----------
    component : int or None
        Index of the failing component, ``None`` for the shared ``'tied'`` covariance.
    covariance_type : str
        The model's covariance type.
    cause : str, optional
        Why it is singular, when known better than the usual collapse.
    """

    def __init__(
        self, component: int | None, covariance_type: str, cause: str | None = None
    ) -> None:
        self.component = component
        self.covariance_type = covariance_type
        which = "the tied covariance" if component is None else f"component {component}"
        cause = cause or (
            "which happens when a component collapses onto a few identical or collinear "
            "points; another initialisation (init_params, random_state) may also help."
        )
        super().__init__(
            f"{SKLEARN_ILL_DEFINED} Here {which} ({covariance_type!r} covariance) is singular "
            f"or not positive definite, {cause}"
        )


class EmptyComponentError(FitError):
    """A component's soft count fell to (numerically) zero: no data is left to estimate it.

    Parameters
    ----------
    component : int
        Index of the empty component.
    soft_count : float
        The component's summed responsibilities.
    """

    def __init__(self, component: int, soft_count: float) -> None:
        self.component = component
        self.soft_count = soft_count
        super().__init__(
            f"Fitting the mixture model failed because component {component} became empty "
            f"(its soft count fell to {soft_count:.3g}, so its mean and covariance are "
            f"undefined). {_FIX}"
        )
