/// Whether a rig's queue goes on to its next run once a run has ended (a protocol's `then:`, or the operator's
/// `cellrig queue add --then`).
///
/// A run that ends `completed` always lets the queue go on, and one that ends `faulted`, `aborted` or
/// `interrupted` always holds it: an instrument that failed, an operator who stepped in or a run that could not
/// continue after a restart needs a person before the rig drives a cell again. The policy decides the case in
/// between, a run a stop criterion ended (for a CCD test, the short it was looking for).
public enum QueuePolicy: String, Sendable, Hashable, Codable, CaseIterable {
    /// Go on after a completed run or a criterion's stop (a CCD test that found its short, followed by an EIS of
    /// the shorted cell).
    case `continue`
    /// Go on only after a completed run (the default: a stopped run changed the cell, and nothing more is applied
    /// to it until someone has looked).
    case hold

    /// Whether the queue goes on after a run that ended in `state`.
    public func allowsNext(after state: RunState) -> Bool {
        switch state {
        case .completed: true
        case .stopped: self == .continue
        case .starting, .running, .paused, .aborted, .interrupted, .faulted: false
        }
    }
}
