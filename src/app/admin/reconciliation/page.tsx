import { ReconciliationConsole } from "~/components/reconciliation-console";

export const metadata = { title: "Reconciliation · Admin · Agent Market" };

export default function ReconciliationPage() {
  return <ReconciliationConsole />;
}
