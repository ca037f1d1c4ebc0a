import { Activity, Bot, Building2, LayoutDashboard, LogOut, Monitor, Moon, ScrollText, ShieldCheck, Sun, User } from "lucide-react";
import { useEffect, useRef, type ReactNode } from "react";
import { NavLink, Outlet, useLocation, useNavigate } from "react-router";

import { Badge } from "@/components/ui/badge";
import { Button } from "@/components/ui/button";
import {
  DropdownMenu, DropdownMenuContent, DropdownMenuItem, DropdownMenuLabel, DropdownMenuRadioGroup, DropdownMenuRadioItem,
  DropdownMenuSeparator, DropdownMenuTrigger,
} from "@/components/ui/dropdown-menu";
import { useCallerOwner } from "@/hooks/queries";
import { usePlatformAdmin, useSession, useSessionManager } from "@/hooks/session";
import { useTheme, type Theme } from "@/hooks/theme";
import { formatTime } from "@/lib/format";
import { SCOPES } from "@/lib/scopes";
import { cn } from "@/lib/utils";

const NAV = [
  { to: "/", label: "Overview", icon: LayoutDashboard, end: true, scope: undefined },
  { to: "/agents", label: "Agents", icon: Bot, end: false, scope: "agents:read" },
  { to: "/audit", label: "Audit Log", icon: ScrollText, end: false, scope: "audit:read" },
  { to: "/health", label: "Health", icon: Activity, end: false, scope: undefined },
] as const;

export function ThemeMenu() {
  const { theme, setTheme } = useTheme();
  const Icon = theme === "dark" ? Moon : theme === "light" ? Sun : Monitor;
  return (
    <DropdownMenu>
      <DropdownMenuTrigger asChild>
        <Button variant="ghost" size="icon" aria-label={`Theme: ${theme}`} data-testid="theme-menu">
          <Icon aria-hidden />
        </Button>
      </DropdownMenuTrigger>
      <DropdownMenuContent align="end">
        <DropdownMenuLabel>Theme</DropdownMenuLabel>
        <DropdownMenuRadioGroup value={theme} onValueChange={(v) => setTheme(v as Theme)}>
          <DropdownMenuRadioItem value="light"><Sun aria-hidden /> Light</DropdownMenuRadioItem>
          <DropdownMenuRadioItem value="dark"><Moon aria-hidden /> Dark</DropdownMenuRadioItem>
          <DropdownMenuRadioItem value="system"><Monitor aria-hidden /> System</DropdownMenuRadioItem>
        </DropdownMenuRadioGroup>
      </DropdownMenuContent>
    </DropdownMenu>
  );
}

/**
 * The owner (tenant) the signed-in agent belongs to: what it sees and
 * manages. A platform admin sees every owner, and the header says so.
 */
export function OwnerBadge() {
  const owner = useCallerOwner();
  const platform = usePlatformAdmin();
  return (
    <div className="flex min-w-0 items-center gap-2 text-sm" data-testid="caller-owner" data-owner={owner ?? ""} data-platform-admin={platform}>
      <Building2 className="h-4 w-4 shrink-0 text-muted-foreground" aria-hidden />
      <span className="hidden text-muted-foreground sm:inline">Owner</span>
      <span className="truncate font-mono text-xs" title={owner}>{owner ?? "…"}</span>
      {platform && <Badge variant="outline" className="shrink-0" title="platform:admin: sees and manages every owner">platform admin</Badge>}
    </div>
  );
}

function IdentityMenu() {
  const session = useSession();
  const platform = usePlatformAdmin();
  const manager = useSessionManager();
  const navigate = useNavigate();
  if (!session) {
    return <Button asChild variant="outline" size="sm"><NavLink to="/login">Sign in</NavLink></Button>;
  }
  return (
    <DropdownMenu>
      <DropdownMenuTrigger asChild>
        <Button variant="outline" size="sm" className="max-w-[16rem]" data-testid="identity-menu">
          <User aria-hidden />
          <span className="truncate font-mono text-xs">{session.clientId}</span>
        </Button>
      </DropdownMenuTrigger>
      <DropdownMenuContent align="end" className="w-80">
        <DropdownMenuLabel className="font-normal">
          <p className="text-xs text-muted-foreground">Signed in as</p>
          <p className="break-all font-mono text-xs">{session.clientId}</p>
          <p className="mt-1 text-xs text-muted-foreground">
            {platform
              ? "A platform admin: you see and manage every owner's agents."
              : "You see and manage only your owner's agents, credentials and audit events."}
          </p>
          {session.expiresAt && (
            <p className="mt-1 text-xs text-muted-foreground">
              Token valid until {formatTime(session.expiresAt)}{session.canRenew ? ", renewed automatically" : "; sign in again after that"}
            </p>
          )}
        </DropdownMenuLabel>
        <DropdownMenuSeparator />
        <DropdownMenuLabel className="font-normal">
          <p className="mb-1 text-xs text-muted-foreground">Scopes of your token</p>
          <ul className="space-y-0.5 text-xs" data-testid="scopes">
            {SCOPES.map((s) => (
              <li key={s} className={cn("font-mono", !session.scopes.has(s) && "text-muted-foreground line-through")}>
                {s}<span className="sr-only">{session.scopes.has(s) ? " (granted)" : " (not granted)"}</span>
              </li>
            ))}
          </ul>
        </DropdownMenuLabel>
        <DropdownMenuSeparator />
        <DropdownMenuItem onSelect={() => void manager.signOut().then(() => navigate("/login"))} data-testid="sign-out">
          <LogOut aria-hidden /> Sign out
        </DropdownMenuItem>
      </DropdownMenuContent>
    </DropdownMenu>
  );
}

/** The frame of every page: skip link, navigation, header, and the page in <main>. */
export function AppShell({ children }: { children?: ReactNode }) {
  const session = useSession();
  const location = useLocation();
  const main = useRef<HTMLElement>(null);
  const first = useRef(true);
  // Move focus to the new page's content on navigation (not on first load),
  // so keyboard and screen-reader users start at the page, not the nav.
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    main.current?.focus({ preventScroll: true });
  }, [location.pathname]);

  return (
    <div className="min-h-screen bg-background">
      <a href="#main" className="sr-only focus:not-sr-only focus:fixed focus:left-2 focus:top-2 focus:z-50 focus:rounded-md focus:bg-primary focus:px-3 focus:py-2 focus:text-primary-foreground">
        Skip to content
      </a>
      <header className="sticky top-0 z-40 border-b bg-background/95 backdrop-blur">
        <div className="flex h-14 items-center gap-4 px-4">
          <NavLink to="/" className="flex items-center gap-2 font-semibold">
            <ShieldCheck className="h-5 w-5" aria-hidden /> AgentIdP
          </NavLink>
          <div className="ml-auto flex min-w-0 items-center gap-2">
            {session && <OwnerBadge />}
            <ThemeMenu />
            <IdentityMenu />
          </div>
        </div>
      </header>
      <div className="flex">
        {session && (
          <nav aria-label="Main" className="sticky top-14 hidden h-[calc(100vh-3.5rem)] w-52 shrink-0 border-r p-3 md:block">
            <ul className="space-y-1">
              {NAV.map((n) => {
                const locked = n.scope !== undefined && !session.scopes.has(n.scope);
                return (
                  <li key={n.to}>
                    <NavLink
                      to={n.to}
                      end={n.end}
                      className={({ isActive }) => cn(
                        "flex items-center gap-2 rounded-md px-3 py-2 text-sm font-medium text-muted-foreground transition-colors hover:bg-accent hover:text-accent-foreground focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-ring",
                        isActive && "bg-accent text-accent-foreground",
                      )}
                      title={locked ? `Needs ${n.scope}` : undefined}
                    >
                      <n.icon className="h-4 w-4" aria-hidden />
                      {n.label}
                      {locked && <span className="ml-auto text-xs">(no {n.scope})</span>}
                    </NavLink>
                  </li>
                );
              })}
            </ul>
          </nav>
        )}
        <main id="main" ref={main} tabIndex={-1} className="min-w-0 flex-1 p-4 outline-none md:p-6">
          {session && (
            <nav aria-label="Pages" className="mb-4 flex gap-1 overflow-x-auto md:hidden">
              {NAV.map((n) => (
                <NavLink key={n.to} to={n.to} end={n.end} className={({ isActive }) => cn("rounded-md px-3 py-1.5 text-sm", isActive ? "bg-accent" : "text-muted-foreground")}>
                  {n.label}
                </NavLink>
              ))}
            </nav>
          )}
          {children ?? <Outlet />}
        </main>
      </div>
    </div>
  );
}

export function PageHeader({ title, description, actions }: { title: ReactNode; description?: ReactNode; actions?: ReactNode }) {
  useEffect(() => {
    if (typeof title === "string") document.title = `${title} · AgentIdP`;
  }, [title]);
  return (
    <div className="mb-6 flex flex-wrap items-start justify-between gap-4">
      <div className="min-w-0 space-y-1">
        <h1 className="text-2xl font-semibold tracking-tight">{title}</h1>
        {description && <div className="text-sm text-muted-foreground">{description}</div>}
      </div>
      {actions && <div className="flex flex-wrap items-center gap-2">{actions}</div>}
    </div>
  );
}
