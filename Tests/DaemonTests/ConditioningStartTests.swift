import Control
import ControlServer
import Domain
import Testing

@testable import Daemon

/// A serial rig whose cell is `metal`, with a temperature controller (max_setpoint 120 C) unless told otherwise.
private func rig(metal: String = "Li", controller: Bool = true, pressureSensor: Bool = true) throws -> RigDescription {
    var text = """
        schema: 1
        id: oven
        cell: {metal: \(metal), electrolyte: X, electrode_area: 0.0314 cm2}
        limits: {voltage: 5 V, current: 20 mA}
        galvanostat: {driver: methodscript, port: /dev/ttyACM0}

        """
    if pressureSensor {
        text += "pressure_sensor: {driver: mark10, port: /dev/ttyUSB0, pellet_area: 0.785 cm2}\n"
    }
    if controller {
        text +=
            "temperature_controller: {driver: modbus, preset: eurotherm-3200, port: /dev/ttyUSB2, "
            + "max_setpoint: 120 C}\n"
    }
    return try DaemonConfiguration.loadRig(text: text, file: "oven.yaml")
}

/// The refusal for `steps` on `rig`, or nil when the start is valid.
private func refusal(_ steps: String, on rig: RigDescription) -> String? {
    let text = "schema: 1\nname: c\nsteps:\n" + steps + "\n"
    do {
        _ = try RunStartValidator(rig: rig).validate(
            StartRunRequest(protocol_file: "c.yaml", protocol_text: text, rig: rig.id))
        return nil
    } catch {
        return error.message
    }
}

@Suite("Run start checks for conditioning steps")
struct ConditioningStartTests {
    @Test func validOnARigWithAControllerAndASensor() throws {
        let steps = """
              - set_temperature: {setpoint: 80 C, wait: {within: 1 C, for: 10 min}, timeout: 2 h}
              - wait: {until: stack_pressure within 7 +/- 0.2 MPa for 5 min}
            """
        #expect(refusal(steps, on: try rig()) == nil)
    }

    @Test func aSetpointNeedsAController() throws {
        let message = refusal("  - set_temperature: {setpoint: 80 C}", on: try rig(controller: false))
        #expect(message?.contains("no temperature controller") == true, "\(message ?? "accepted")")
    }

    @Test func aSetpointAboveTheRigsMaximumIsRefused() throws {
        let message = refusal("  - set_temperature: {setpoint: 130 C}", on: try rig())
        #expect(message?.contains("max_setpoint of 120 C") == true, "\(message ?? "accepted")")
    }

    @Test("a setpoint within 10 C of the metal's melting point is refused: K melts at 63.5 C")
    func aSetpointNearTheMeltingPointIsRefused() throws {
        let message = refusal("  - set_temperature: {setpoint: 60 C}", on: try rig(metal: "K"))
        #expect(message?.contains("at most 53.5 C") == true, "\(message ?? "accepted")")
        #expect(refusal("  - set_temperature: {setpoint: 50 C}", on: try rig(metal: "K")) == nil)
    }

    @Test func aWaitNeedsItsQuantityMeasured() throws {
        let message = refusal(
            "  - wait: {until: stack_pressure within 7 +/- 0.2 MPa for 5 min}", on: try rig(pressureSensor: false))
        #expect(message?.contains("stack pressure") == true, "\(message ?? "accepted")")
        let temperature = refusal(
            "  - wait: {until: temperature within 25 +/- 1 C for 5 min}", on: try rig(controller: false))
        #expect(temperature?.contains("does not measure") == true, "\(temperature ?? "accepted")")
    }
}
