import Domain
import Foundation
import InstrumentDrivers
import Instruments
import SerialTransport
import Transport

/// Why a rig's instruments cannot be opened: a port that is absent, busy or refuses its settings.
struct InstrumentUnavailable: Error, Sendable, CustomStringConvertible {
    var description: String
}

/// A failed exchange with the pressure sensor; says which instrument failed and keeps the driver's error (with its bytes).
struct PressureSensorFailure: Error, Sendable, CustomStringConvertible {
    var underlying: any Error

    var description: String { "pressure sensor: \(underlying)" }
}

/// Builds a rig's serial instruments from its description: resolves each port spec, opens the port and wraps
/// the drivers in one ``SerialRigInstruments``.
///
/// Ports are resolved and opened at every run start, never at daemon start. A rig whose instrument is
/// unplugged therefore still loads (it shows as unavailable), and an instrument that was unplugged during a
/// run and plugged back in is found again by the next run, even under another `/dev/ttyACM*` name when the
/// rig names it by `/dev/serial/by-id/...` or `usb:VID:PID:SERIAL`.
enum InstrumentFactory {
    /// Opens the rig's galvanostat and pressure sensor. Throws ``InstrumentUnavailable`` naming the port.
    static func open(_ rig: RigDescription) async throws -> SerialRigInstruments {
        let galvanostat: any Galvanostat
        let galvanostatPort: OpenedPort
        switch rig.galvanostat {
        case .simulated:
            throw InstrumentUnavailable(description: "rig '\(rig.id)': the simulated galvanostat has no port")
        case .methodScript(let configuration):
            galvanostatPort = try openPort(configuration.line, role: "galvanostat", rig: rig.id)
            galvanostat = MethodScriptGalvanostat(
                transport: galvanostatPort.transport, configuration: configuration)
        case .keithley2400(let configuration):
            galvanostatPort = try openPort(configuration.line, role: "galvanostat", rig: rig.id)
            galvanostat = Keithley2400Galvanostat(transport: galvanostatPort.transport, configuration: configuration)
        }
        var pressure: SerialRigInstruments.PressureSensor?
        if let sensor = rig.pressureSensor {
            let port: OpenedPort
            do {
                port = try openPort(sensor.line, role: "pressure sensor", rig: rig.id)
            } catch {
                await galvanostatPort.transport.close()
                throw error
            }
            pressure = SerialRigInstruments.PressureSensor(
                sensor: makeForceSensor(sensor.driver, transport: port.transport), port: port, configuration: sensor)
        }
        return SerialRigInstruments(galvanostat: galvanostat, galvanostatPort: galvanostatPort, pressure: pressure)
    }

    private static func makeForceSensor(_ driver: PressureSensorConfiguration.Driver, transport: any ByteTransport)
        -> any ForceSensor
    {
        switch driver {
        case .mark10(let configuration): Mark10ForceGauge(transport: transport, configuration: configuration)
        case .modbus(let configuration): ModbusLoadCell(transport: transport, configuration: configuration)
        }
    }

    /// A port opened for an instrument: the transport, and how the rig file named it.
    struct OpenedPort: Sendable {
        let transport: any ByteTransport
        /// As written in the rig file.
        let spec: String
        /// The device path it resolved to.
        let path: String

        /// For instrument identities: the spec, and the device when the spec is a link or a USB identity.
        var recordedName: String { spec == path ? path : "\(spec) (\(path))" }
    }

    static func openPort(_ line: SerialLineConfiguration, role: String, rig: String) throws -> OpenedPort {
        let path: String
        let spec: SerialPortSpec
        do {
            spec = try SerialPortSpec(parsing: line.port)
            path = try spec.resolve(among: try listSerialPorts())
        } catch {
            throw InstrumentUnavailable(
                description: "rig '\(rig)': the \(role)'s port \(line.port) is not present (\(detail(error))); "
                    + "connect the instrument, or correct the port in the rig file")
        }
        do {
            var resolved = line
            resolved.port = path
            let transport = try SerialPortTransport(line: resolved, backend: .automatic)
            return OpenedPort(transport: transport, spec: line.port, path: path)
        } catch {
            throw InstrumentUnavailable(
                description: "rig '\(rig)': cannot open the \(role)'s port \(line.port): \(detail(error))")
        }
    }

    /// Why a rig cannot run now, or nil when every port it names is present. Cheap: resolves, never opens.
    static func unavailability(of rig: RigDescription) -> String? {
        var lines: [(String, SerialLineConfiguration)] = []
        if let line = rig.galvanostat.line { lines.append(("galvanostat", line)) }
        if let sensor = rig.pressureSensor { lines.append(("pressure sensor", sensor.line)) }
        for (role, line) in lines {
            do {
                _ = try SerialPortSpec(parsing: line.port).resolve(among: try listSerialPorts())
            } catch {
                return "the \(role)'s port \(line.port) is not present (\(detail(error)))"
            }
        }
        return nil
    }

    private static func detail(_ error: any Error) -> String {
        guard let transportError = error as? TransportError else { return "\(error)" }
        return transportError.detail.isEmpty ? transportError.kind.rawValue : transportError.detail
    }
}
