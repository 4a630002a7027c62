public import Domain

/// A controller of the cell's temperature (a PID controller driving a heater): the capability behind a rig's
/// `temperature_C` readings and the `set_temperature` step.
///
/// Implementations own their port (one actor per instrument). Setting a setpoint does not wait for the cell to reach
/// it: a `wait` step does that, reading ``readTemperature_C()``.
public protocol TemperatureController: Actor {
    /// Model, firmware, serial number and port, as far as the controller reports them.
    func identify() async throws -> InstrumentIdentity

    /// The measured temperature (the process value), in degrees Celsius.
    func readTemperature_C() async throws -> Double

    /// Writes the setpoint and lets the controller drive its output towards it.
    func setSetpoint(_ setpoint_C: Double) async throws

    /// Holds the controller's output (the heater) off; the setpoint stays as it was.
    func disableOutput() async throws
}

/// A rig's instrument that can set the cell's temperature for a `set_temperature` step: a serial rig with a
/// temperature controller, or a simulated rig with a heater. The run loop asks this of the rig's main instrument.
public protocol TemperatureSetting: Sendable {
    /// Whether this instrument has a heater to set (a rig without one refuses `set_temperature`).
    var controlsTemperature: Bool { get }

    /// Sets the temperature the cell is brought to; it does not wait for the cell to reach it.
    func setTemperature(_ setpoint_C: Double) async throws
}
