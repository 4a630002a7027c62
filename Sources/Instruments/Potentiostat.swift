public import Domain

/// A galvanostat that can also set the working electrode's potential and measure the current: potentiostatic
/// holds, linear sweeps and cyclic voltammetry.
///
/// While a potential program runs, samples carry the measured current in `current_A` and the controlled voltage
/// (WE-RE or WE-CE, as the program says) at the programmed value within the instrument's control error. The
/// instrument enforces the program's current compliance itself. ``Galvanostat/openCircuit()`` and
/// ``Galvanostat/finishRun()`` end a program like they end a current: the cell is left without output.
public protocol Potentiostat: Galvanostat {
    /// Starts `program` now: a hold at its potential, or a sweep from its first corner, timed from this call.
    func applyPotential(_ program: PotentialProgram) async throws
}
