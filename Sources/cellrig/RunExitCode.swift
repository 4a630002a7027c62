import ArgumentParser
import Domain

/// The exit status of `cellrig watch` and `cellrig status RUN`: how the run ended, so a script can tell a
/// completed plan from a short found, an abort, an interruption and a fault without reading the output.
enum RunExitCode {
    /// The command itself failed (no daemon, no such run): ArgumentParser's failure status.
    static let commandFailed: Int32 = 1
    /// `cellrig status` of a run that has not ended (starting, running, paused).
    static let stillActive: Int32 = 6

    static func code(for state: RunState) -> Int32 {
        switch state {
        case .completed: 0
        case .stopped: 2
        case .aborted: 3
        case .interrupted: 4
        case .faulted: 5
        case .starting, .running, .paused: stillActive
        }
    }

    /// The code for a state as the API spells it; an unknown state is a failure of the command.
    static func code(for state: String) -> Int32 {
        RunState(rawValue: state).map { code(for: $0) } ?? commandFailed
    }

    /// Ends the command with the run's code (nothing for a completed run).
    static func exit(for state: String) throws {
        let code = code(for: state)
        if code != 0 { throw ExitCode(code) }
    }

    /// The table for `--help`.
    static let help = """
        Exit status: 0 completed (every planned step ran), 2 stopped (a stop criterion ended the run; for a CCD \
        test, the short was found), 3 aborted by the operator, 4 interrupted (the daemon shut down), 5 faulted \
        (an instrument or storage fault), 6 still going (status of a run that has not ended), 1 the command \
        failed (no daemon, no such run), 64 wrong usage.
        """
}
