public import Domain

/// A current source that measures the cell: the capability every rig's main instrument provides.
///
/// Implementations own their port (one actor per instrument). Signs follow IUPAC (positive current strips the
/// working electrode); a driver maps its instrument's convention to this one. Every method that changes the
/// output also sets the hardware limits on the instrument, so the cell stays safe if the host dies.
public protocol Galvanostat: Actor {
    /// Model, firmware, serial number and port, as read from the instrument.
    func identify() async throws -> InstrumentIdentity

    /// Prepares a run: the sampling interval in cell seconds and the limits to enforce in hardware.
    func configure(samplingInterval_s: Double, limits: HardwareLimits) async throws

    /// Drives `current_A` through the cell until told otherwise.
    func applyCurrent(_ current_A: Double) async throws

    /// Leaves the cell without current for a pause between steps: the safe state for a rest. Returns only once the
    /// instrument confirmed it (a driver that cannot confirm says so in its documentation). A driver may keep
    /// measuring the open-circuit voltage (a source at exactly 0 A); the end of a run is ``finishRun()``.
    func openCircuit() async throws

    /// Waits for and returns the next sample, on the instrument's own clock.
    func nextSample() async throws -> InstrumentSample

    /// Waits for at least one sample, then returns every sample the driver holds, oldest first: the run loop takes
    /// a batch per call instead of one actor hop per sample. The default returns one ``nextSample()``.
    ///
    /// A driver sets ``SampleFlags/overload`` and ``SampleFlags/nonFinite`` where the instrument said so; it never
    /// drops a reading the instrument sent.
    func nextSamples() async throws -> [InstrumentSample]

    /// For an instrument that measures ahead of the run loop (a simulator at unlimited speed): forgets the samples
    /// it handed over after the one at `time_s` and continues from that moment, as if the loop's next command had
    /// come right after that sample. Returns false when it cannot (every real instrument: what it measured
    /// happened, and the run records it as late). The default returns false.
    func rewind(toSampleAt time_s: Double) async -> Bool

    /// Lines or packages the driver received since ``configure(samplingInterval_s:limits:)`` and could not turn
    /// into samples (garbled, truncated, of an unknown kind). The default is 0.
    var discardedReadingCount: Int { get async }

    /// Ends a run, whatever ended it: leaves the cell disconnected (output off, relay open where the instrument
    /// has one) and the instrument idle, without starting a new measurement. Returns only once the instrument
    /// confirmed the output is off, so the time to its return is the honest reaction time.
    ///
    /// Samples the instrument sends while it stops are kept for ``takePendingSamples()``. The default calls
    /// ``openCircuit()``, for instruments whose open circuit is the output switched off and measures nothing.
    func finishRun() async throws

    /// Asks the instrument to measure both voltages of a three-electrode cell: the working electrode against the
    /// reference electrode (``InstrumentSample/voltageWERE_V``) and against the counter electrode
    /// (``InstrumentSample/voltage_V``). Called after `configure` for every run; `false` for two-electrode runs.
    ///
    /// The default does nothing: such an instrument measures one voltage, between the terminals it is wired to (a
    /// Keithley 2400 with sense LO on the reference measures WE-RE), and records it as `voltage_V`.
    func measureBothVoltages(_ enabled: Bool) async throws

    /// The smallest voltage step the instrument reports on its present measurement range, when the driver knows it
    /// (after ``configure(samplingInterval_s:limits:)``); the default is nil.
    var voltageResolution_V: Double? { get async }

    /// Hands over the samples the driver read but ``nextSample()`` has not returned yet (for example those that
    /// arrived while ``finishRun()`` stopped a measurement), oldest first, and forgets them. The default has none.
    func takePendingSamples() async -> [InstrumentSample]
}

extension Galvanostat {
    public func nextSamples() async throws -> [InstrumentSample] { [try await nextSample()] }

    public func rewind(toSampleAt time_s: Double) async -> Bool { false }

    public var discardedReadingCount: Int { get async { 0 } }

    public var voltageResolution_V: Double? { get async { nil } }

    public func finishRun() async throws {
        try await openCircuit()
    }

    public func takePendingSamples() async -> [InstrumentSample] { [] }

    public func measureBothVoltages(_ enabled: Bool) async throws {}
}

/// Why an instrument operation failed; the message names the instrument and what it said.
public struct InstrumentError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        case disconnected
        case timeout
        case rejected
        case invalidReply = "invalid-reply"
        case notConfigured = "not-configured"
    }

    public var code: Code
    public var instrument: String
    public var message: String

    public init(_ code: Code, instrument: String, _ message: String) {
        self.code = code
        self.instrument = instrument
        self.message = message
    }

    public var description: String { "\(instrument): \(code.rawValue): \(message)" }
}
