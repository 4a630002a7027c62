public import Domain

/// A sensor of the stack force on a cell: the capability behind the rig's pressure reading.
///
/// Implementations own their port (one actor per instrument). Compression is positive; the rig's
/// ``StackPressureCalibration`` (in Domain) turns a force into a stack pressure.
public protocol ForceSensor: Actor {
    /// Model, firmware, serial number and port, as far as the sensor reports them.
    func identify() async throws -> InstrumentIdentity

    /// The current force in newtons, compression positive.
    func readForce_N() async throws -> Double

    /// Zeroes (tares) the sensor at the present load, e.g. before the cell is clamped.
    func zero() async throws
}
