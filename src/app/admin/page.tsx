import { AdminConsole } from "~/components/admin-console";

export const metadata = { title: "Admin · Agent Market" };

export default function AdminPage() {
  return <AdminConsole />;
}
